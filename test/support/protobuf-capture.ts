/**
 * Captures the protobuf bodies the real kubectl sends: a plain-HTTP recorder that answers
 * discovery from Skiff's own tables, records every POST body, and echoes 201.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SERVER_VERSION, apiGroupList, apiResourceList } from '../../shared/api/discovery.js';

/** The imperative commands that send protobuf, by fixture name. */
export const PROTOBUF_COMMANDS: Record<string, string[]> = {
  namespace: ['create', 'namespace', 'team-a'],
  configmap: ['create', 'configmap', 'settings', '--from-literal=color=blue', '--from-literal=size=large'],
  secret: ['create', 'secret', 'generic', 'creds', '--from-literal=user=admin', '--from-literal=password=s3cr3t'],
  deployment: ['create', 'deployment', 'web', '--image=nginx:1.25', '--replicas=3', '--port=80'],
  service: ['create', 'service', 'clusterip', 'web', '--tcp=80:8080'],
  job: ['create', 'job', 'hello', '--image=busybox', '--', 'sh', '-c', 'echo hi'],
  cronjob: ['create', 'cronjob', 'nightly', '--image=busybox', '--schedule=0 3 * * *', '--', 'sh', '-c', 'echo night'],
  quota: ['create', 'quota', 'small', '--hard=pods=2,requests.cpu=500m,requests.memory=1Gi', '--scopes=NotTerminating,NotBestEffort'],
};

export interface Captured {
  contentType: string;
  body: Buffer;
}

/** Runs each command against a recorder and returns the body it posted. */
export async function captureProtobufBodies(commands = PROTOBUF_COMMANDS): Promise<Record<string, Captured>> {
  const bodies: Captured[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (d: Buffer) => chunks.push(d));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://x');
      const send = (code: number, body: unknown) => {
        res.writeHead(code, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      if (req.method === 'POST') {
        bodies.push({ contentType: String(req.headers['content-type']), body: Buffer.concat(chunks) });
        return send(201, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', code: 201 });
      }
      if (url.pathname === '/version') return send(200, SERVER_VERSION);
      if (url.pathname === '/api') return send(200, { kind: 'APIVersions', versions: ['v1'] });
      if (url.pathname === '/apis') return send(200, apiGroupList());
      if (url.pathname === '/api/v1') return send(200, apiResourceList('', 'v1'));
      const m = /^\/apis\/([^/]+)\/([^/]+)$/.exec(url.pathname);
      if (m) return send(200, apiResourceList(m[1], m[2]));
      send(404, { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'NotFound', code: 404 });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const cache = mkdtempSync(join(tmpdir(), 'skiff-capture-'));
  const out: Record<string, Captured> = {};
  try {
    for (const [name, args] of Object.entries(commands)) {
      const before = bodies.length;
      // spawnSync would block the recorder's event loop: run kubectl asynchronously.
      await new Promise<void>((resolve) => {
        const child = spawn('kubectl', [`--server=http://127.0.0.1:${port}`, `--cache-dir=${cache}`, '--validate=false', ...args], {
          stdio: 'ignore',
          env: { ...process.env, KUBECONFIG: '/dev/null' },
        });
        child.on('close', () => resolve());
      });
      if (bodies.length === before) throw new Error(`kubectl ${args.join(' ')} posted nothing`);
      out[name] = bodies[bodies.length - 1];
    }
  } finally {
    server.close();
    rmSync(cache, { recursive: true, force: true });
  }
  return out;
}

/** What kubectl itself makes of the same command: its client-side dry run, as JSON. */
export function dryRunJson(args: string[]): Record<string, unknown> {
  // Flags go before a command's `--` (kubectl create job ... -- sh -c ...), where kubectl reads them.
  const cut = args.includes('--') ? args.indexOf('--') : args.length;
  const r = spawnSync('kubectl', [...args.slice(0, cut), '--dry-run=client', '-o', 'json', ...args.slice(cut)], {
    encoding: 'utf8',
    env: { ...process.env, KUBECONFIG: '/dev/null' },
  });
  if (r.status !== 0) throw new Error(`kubectl dry run failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}
