/**
 * The SST CLI's RPC server, as SST's platform code calls it while it builds a stack
 * (`SST_SERVER`, JSON-RPC 1.0 over HTTP POST /rpc). With it, SST's components run under
 * Pulumi's mocks here, so the component tests exercise SST's real code:
 * - `Runtime.Build` bundles the handler for real (esbuild, as deployed) and answers with the
 *   folder and handler SST then zips;
 * - `Provider.Aws.Bootstrap` names the bootstrap bucket and registry (nothing is created);
 * - any other method answers as the CLI does for a method it does not have.
 * A test and development tool: nothing here reaches AWS.
 */
import { mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { bundleFunction } from './bundle.js';

export interface BuildRequest {
  functionID: string;
  handler: string;
}

export class SstRpc {
  /** Each Runtime.Build: the function, its handler, and the bundle's size. */
  readonly builds: { functionID: string; handler: string; bytes: number }[] = [];
  /** Calls being answered now (a build takes a second or two). */
  inFlight = 0;
  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  /** `root`: where handler paths start; `work`: where bundles go. */
  static async start(root: string, work: string): Promise<SstRpc> {
    let rpc: SstRpc | undefined;
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk) => {
        body += chunk;
      });
      req.on('end', async () => {
        const { method, params } = JSON.parse(body) as { method: string; params: unknown[] };
        if (rpc) rpc.inFlight++;
        const answer = await rpc?.answer(method, params[0], root, work).then(
          (result) => ({ result, error: null }),
          (e: Error) => ({ result: null, error: e.message }),
        );
        if (rpc) rpc.inFlight--;
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ id: 0, ...answer }));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    rpc = new SstRpc(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    return rpc;
  }

  private async answer(method: string, args: unknown, root: string, work: string): Promise<unknown> {
    if (method === 'Runtime.Build') return this.build(args as BuildRequest, root, work);
    if (method === 'Provider.Aws.Bootstrap') {
      const { region } = args as { region: string };
      return {
        asset: `sst-asset-${region}`,
        assetEcrRegistryId: '123456789012',
        assetEcrUrl: `123456789012.dkr.ecr.${region}.amazonaws.com/sst-asset`,
        state: `sst-state-${region}`,
        appsyncHttp: '',
        appsyncRealtime: '',
      };
    }
    throw new Error(`rpc: can't find method ${method}`);
  }

  private async build({ functionID, handler }: BuildRequest, root: string, work: string) {
    const dot = handler.lastIndexOf('.');
    const [file, exported] = [handler.slice(0, dot), handler.slice(dot + 1)];
    const out = join(work, 'artifacts', functionID);
    mkdirSync(out, { recursive: true });
    const { bytes } = await bundleFunction(join(root, `${file}.ts`), join(out, 'index.mjs'));
    this.builds.push({ functionID, handler, bytes });
    return { handler: `index.${exported}`, out, errors: [], sourcemaps: [] };
  }

  stop(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
