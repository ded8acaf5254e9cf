/**
 * SST's components under Pulumi's runtime mocks, offline: the `$app`, `$util`, `sst` and `aws`
 * globals SST's CLI gives `sst.config.ts`, the SST RPC emulator for builds, and mocks that
 * record every resource and invoke with its inputs, and answer with plausible outputs (ARNs,
 * URLs, a stream ARN for a table with a stream). Everything is loaded from `.sst/platform`, the
 * SST platform `sst install` puts there, so the code under test is SST's own.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SstRpc } from '../../emulators/sst-rpc.js';

const root = process.cwd();
const platform = join(root, '.sst/platform');
const ACCOUNT = '123456789012';
const REGION = 'us-east-1';

export interface MadeResource {
  type: string;
  name: string;
  inputs: Record<string, any>;
  state: Record<string, any>;
}

export interface Stack {
  resources: MadeResource[];
  builds: SstRpc['builds'];
  /** What the program returned, its Outputs resolved (the stack outputs `sst deploy` prints). */
  outputs: Record<string, unknown>;
  /** The one resource of this type whose name contains `name`; throws if none or several. */
  one(type: string, name?: string): MadeResource;
  all(type: string): MadeResource[];
  close(): Promise<void>;
}

function outputsFor(type: string, name: string, inputs: Record<string, any>): Record<string, any> {
  const service = type.split(':')[1].split('/')[0];
  const resourceName = inputs.name ?? `${name}-${type.split(':').at(-1)?.toLowerCase()}`;
  const state: Record<string, any> = { ...inputs, name: resourceName, arn: `arn:aws:${service}:${REGION}:${ACCOUNT}:${resourceName}` };
  if (type === 'aws:dynamodb/table:Table' && inputs.streamEnabled) state.streamArn = `${state.arn}/stream/2026-01-01T00:00:00.000`;
  if (type === 'aws:sqs/queue:Queue') state.url = `https://sqs.${REGION}.amazonaws.com/${ACCOUNT}/${resourceName}`;
  if (type === 'aws:apigateway/restApi:RestApi')
    Object.assign(state, { rootResourceId: `${name}-root`, executionArn: `arn:aws:execute-api:${REGION}:${ACCOUNT}:${name}` });
  if (type === 'aws:apigateway/stage:Stage') state.invokeUrl = `https://${inputs.restApi}.execute-api.${REGION}.amazonaws.com/${inputs.stageName}`;
  if (type === 'aws:ec2/vpc:Vpc') state.defaultRouteTableId = `${name}-rt`;
  if (type === 'aws:cloudfront/distribution:Distribution') state.domainName = `d${name.toLowerCase()}.cloudfront.net`;
  if (type === 'aws:lb/loadBalancer:LoadBalancer') state.dnsName = `internal-${name}.${REGION}.elb.amazonaws.com`;
  if (type === 'aws:s3/bucketV2:BucketV2') state.bucket = inputs.bucket ?? `${name.toLowerCase()}-bucket`;
  return state;
}

function invoke(token: string, inputs: Record<string, any>): Record<string, any> {
  if (token === 'aws:index/getRegion:getRegion') return { name: REGION, region: REGION, id: REGION };
  if (token === 'aws:index/getPartition:getPartition') return { partition: 'aws', dnsSuffix: 'amazonaws.com' };
  if (token === 'aws:index/getCallerIdentity:getCallerIdentity') return { accountId: ACCOUNT, arn: `arn:aws:iam::${ACCOUNT}:root`, userId: 'test' };
  if (token === 'aws:index/getAvailabilityZones:getAvailabilityZones')
    return { names: [`${REGION}a`, `${REGION}b`, `${REGION}c`], zoneIds: ['use1-az1', 'use1-az2', 'use1-az3'] };
  if (token === 'aws:iam/getPolicyDocument:getPolicyDocument') {
    const statements = inputs.statements ?? [];
    return { json: JSON.stringify({ Version: '2012-10-17', Statement: statements }), statements: statements.length ? statements : undefined };
  }
  if (token === 'aws:ssm/getParameter:getParameter') return { value: 'ami-0123456789abcdef0', name: inputs.name };
  if (token === 'aws:ec2/getAmi:getAmi') return { id: 'ami-0fedcba9876543210', architecture: 'arm64' };
  return inputs;
}

/** Runs `build` (the stack's program) under mocks and waits until no more resources appear. */
export async function mockStack(build: () => Promise<unknown> | unknown): Promise<Stack> {
  const work = mkdtempSync(join(tmpdir(), 'skiff-sst-'));
  const rpc = await SstRpc.start(root, work);
  process.env.SST_SERVER = rpc.url;
  const pulumi: any = await import(join(platform, 'node_modules/@pulumi/pulumi/index.js'));
  const resources: MadeResource[] = [];
  await pulumi.runtime.setMocks(
    {
      newResource: (args: { type: string; name: string; inputs: Record<string, any> }) => {
        const state = outputsFor(args.type, args.name, args.inputs);
        resources.push({ type: args.type, name: args.name, inputs: args.inputs, state });
        return { id: `${args.name}-id`, state };
      },
      call: (args: { token: string; inputs: Record<string, any> }) => invoke(args.token, args.inputs),
    },
    'skiff',
    'test',
    false,
  );
  await setGlobals(pulumi, work);
  const program = await build();
  await settled(resources, rpc);
  const outputs = await new Promise<Record<string, unknown>>((resolve) => pulumi.output(program ?? {}).apply(resolve));

  const all = (type: string) => resources.filter((r) => r.type === type);
  const one = (type: string, name = '') => {
    const found = all(type).filter((r) => r.name.includes(name));
    if (found.length !== 1) throw new Error(`${found.length} resources of ${type} named *${name}*: ${found.map((r) => r.name).join(', ')}`);
    return found[0];
  };
  return {
    resources,
    builds: rpc.builds,
    outputs,
    all,
    one,
    close: async () => {
      await rpc.stop();
      rmSync(work, { recursive: true, force: true });
    },
  };
}

async function setGlobals(pulumi: any, work: string): Promise<void> {
  const g = globalThis as Record<string, unknown>;
  Object.assign(g, {
    $app: { name: 'skiff', stage: 'test', removal: 'remove', protect: false, providers: { aws: { region: REGION } } },
    $dev: false,
    $cli: { command: 'deploy', paths: { root, platform, work }, state: { version: {} }, home: 'aws' },
    $util: pulumi,
    $output: pulumi.output,
    $resolve: pulumi.all,
    $interpolate: pulumi.interpolate,
    $concat: pulumi.concat,
    $jsonParse: pulumi.jsonParse,
    $jsonStringify: pulumi.jsonStringify,
  });
  const component: any = await import(join(platform, 'src/components/component.ts'));
  Object.assign(g, { $transform: component.$transform, $asset: component.$asset });
  g.sst = await import(join(platform, 'src/components/index.ts'));
  g.aws = await import(join(platform, 'node_modules/@pulumi/aws/index.js'));
}

/**
 * Pulumi registers resources as their inputs resolve, some after a build, and a build may start
 * only once another's output resolved: wait until no build has run and no resource has appeared
 * for 3 s (a loaded machine left a gap of more than half a second between two builds).
 */
async function settled(resources: MadeResource[], rpc: SstRpc, timeoutMs = 120_000, quietMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let seen = -1;
  let quietSince = Date.now();
  for (;;) {
    if (seen !== resources.length || rpc.inFlight > 0) {
      seen = resources.length;
      quietSince = Date.now();
    } else if (Date.now() - quietSince >= quietMs) return;
    if (Date.now() > deadline) throw new Error(`resources still appearing after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
