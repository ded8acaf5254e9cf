/**
 * The `local` cloud provider (a driver of the `CloudProvider` port in shared/cloud/types.ts,
 * kept beside the kubelet it starts, so that shared/ never reaches into kubelet/): each node is
 * a kubelet child process on this machine, with its
 * own data directory (`<dataDir>/nodes/<name>`) and its own API token. Its output is passed to
 * `log` line by line, prefixed with the node's name. A kubelet that dies is not restarted
 * behind the cluster's back: its node goes NotReady and its pods move, as with a lost machine.
 * `close` stops every kubelet, whose pods stop with them; the containers of a kubelet that died
 * are cleaned up from its data directory.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { InsufficientCapacityError, type CloudNode, type CloudProvider, type InstanceType, type NodeRequest } from '../shared/cloud/types.js';
import { issueKubeletCert } from '../functions/api/tls.js';
import { type Cidr, clusterRange, ipOf, subnet } from '../shared/net/cidr.js';
import { createRuntime, type RuntimeName } from './runtime/factory.js';

const KUBELET_MAIN = join(dirname(fileURLToPath(import.meta.url)), 'main.ts');
/** This checkout's kubelet as this machine runs it: Node, with tsx, on the kubelet's entry point. */
const KUBELET_ARGS = ['--import', import.meta.resolve('tsx'), KUBELET_MAIN];
/** The same as a command line, for a launch script (an emulated instance's or task's) to run. */
export const KUBELET_COMMAND = [process.execPath, ...KUBELET_ARGS].join(' ');

export interface LocalProviderOptions {
  /** The API server's URL, and the file holding its CA. */
  server: string;
  caFile: string;
  dataDir: string;
  runtime: RuntimeName;
  dockerSocket?: string;
  /** Makes an API token for a node's kubelet. */
  issueToken(user: string, groups: string[], options?: { replace?: boolean }): string;
  /**
   * The folder of the cluster CA (`ca.crt`, `ca.key`) that signs each kubelet's serving
   * certificate; the API then reaches kubelets only over TLS it checks against that CA. Absent:
   * kubelets serve plain HTTP (tests of the provider alone).
   */
  servingCaDir?: string;
  leaseIntervalMs?: number;
  historyIntervalMs?: number;
  backoffInitialMs?: number;
  /** The kubelets' `--volume-sync-seconds`. */
  volumeSyncSeconds?: number;
  /** The cluster DNS Service's address, the kubelets' `--cluster-dns`. */
  clusterDns?: string;
  /** Each kubelet answers cluster DNS itself (`--serve-cluster-dns`): no server of the control plane does. */
  serveDns?: boolean;
  /** Where each node's pod range (a /24) is cut from (default `DEFAULT_CLUSTER_CIDR`). */
  clusterCidr?: string;
  log?: (line: string) => void;
  /**
   * Told each kubelet's new log-server credential before the kubelet starts, for an API that does
   * not live in this process (the AWS shape keeps them in its table).
   */
  publishServingToken?: (node: string, token: string) => Promise<void>;
}

interface Entry {
  node: CloudNode;
  child: ChildProcess;
  exited: Promise<void>;
}

export class LocalCloudProvider implements CloudProvider {
  readonly name = 'local';
  private readonly nodes = new Map<string, Entry>();
  private readonly cluster: Cidr;
  /** Node name -> the index of its pods' /24 in the cluster range. */
  private readonly ranges = new Map<string, number>();
  private readonly servingTokens = new Map<string, string>();
  private readonly log: (line: string) => void;

  constructor(private readonly options: LocalProviderOptions) {
    this.log = options.log ?? (() => undefined);
    this.cluster = clusterRange(options.clusterCidr);
  }

  async instanceTypes(): Promise<InstanceType[]> {
    return [{ name: 'local', cpu: cpus().length * 1000, memory: totalmem(), pods: 110, zones: ['local'] }];
  }

  /** The credential the kubelet of `name` requires on its log server, if this provider started it. */
  servingTokenFor(name: string): string | undefined {
    return this.servingTokens.get(name);
  }

  nodeDir(name: string): string {
    return join(this.options.dataDir, 'nodes', name);
  }

  /**
   * A node's credentials, new at each start: its API token (the ones it had before stop
   * working), its own credential for its log server (only the API, which asks
   * `servingTokenFor`, knows it, and it reaches no other node), its loopback range and address,
   * and, with a serving CA, its serving certificate for that address.
   */
  private credentials(name: string, dir: string) {
    const tokenFile = join(dir, 'token');
    writeFileSync(tokenFile, this.options.issueToken(`system:node:${name}`, ['system:nodes'], { replace: true }), { mode: 0o600 });
    const servingToken = randomBytes(24).toString('base64url');
    this.servingTokens.set(name, servingToken);
    const servingTokenFile = join(dir, 'serving-token');
    writeFileSync(servingTokenFile, servingToken, { mode: 0o600 });
    // Each node's pods get loopback addresses of their own range: on one machine, pods of
    // every node can then listen on the same port, each on its own address.
    const count = this.cluster.size / 256;
    const used = new Set(this.ranges.values());
    let index = this.ranges.get(name) ?? Number(/(\d+)$/.exec(name)?.[1] ?? 0) % count;
    for (let tries = 0; !this.ranges.has(name) && used.has(index); tries++) {
      if (tries === count) throw new Error(`the cluster range ${this.cluster.cidr} has no /24 left for node ${name}`);
      index = (index + 1) % count;
    }
    this.ranges.set(name, index);
    const range = subnet(this.cluster, 24, index) as string;
    const address = ipOf(this.cluster.base + index * 256 + 1);
    const tls: string[] = [];
    if (this.options.servingCaDir) {
      const serving = issueKubeletCert(this.options.servingCaDir, name, [address]);
      writeFileSync(join(dir, 'serving.crt'), serving.cert);
      writeFileSync(join(dir, 'serving.key'), serving.key, { mode: 0o600 });
      tls.push('--tls-cert-file', join(dir, 'serving.crt'), '--tls-key-file', join(dir, 'serving.key'));
    }
    return { tokenFile, servingTokenFile, range, address, tls };
  }

  async create(request: NodeRequest): Promise<CloudNode> {
    const existing = this.nodes.get(request.name);
    if (existing && existing.child.exitCode === null) return existing.node;
    const [type] = await this.instanceTypes();
    if (request.instanceType !== type.name) throw new Error(`unknown instance type ${request.instanceType}: the local provider offers ${type.name}`);
    if (!type.zones.includes(request.zone)) throw new InsufficientCapacityError(request.instanceType, request.zone);
    const dir = this.nodeDir(request.name);
    mkdirSync(dir, { recursive: true });
    const { tokenFile, servingTokenFile, range, address, tls } = this.credentials(request.name, dir);
    await this.options.publishServingToken?.(request.name, this.servingTokens.get(request.name) as string);
    const labels = {
      'topology.kubernetes.io/zone': request.zone,
      'node.kubernetes.io/instance-type': request.instanceType,
      'skiff.dev/provider': 'local',
      ...request.labels,
    };
    const args = [
      ...KUBELET_ARGS,
      '--name',
      request.name,
      '--server',
      this.options.server,
      '--ca-file',
      this.options.caFile,
      '--token-file',
      tokenFile,
      '--serving-token-file',
      servingTokenFile,
      '--data-dir',
      dir,
      '--runtime',
      this.options.runtime,
      '--provider-id',
      `local://${request.name}`,
      '--pod-cidr',
      range,
      // The node's own address (the range's first), so host ports of different nodes differ.
      '--address',
      address,
      ...tls,
      ...(this.options.dockerSocket ? ['--docker-socket', this.options.dockerSocket] : []),
      ...(this.options.leaseIntervalMs ? ['--lease-interval-ms', String(this.options.leaseIntervalMs)] : []),
      ...(this.options.historyIntervalMs ? ['--history-interval-ms', String(this.options.historyIntervalMs)] : []),
      ...(this.options.backoffInitialMs ? ['--backoff-initial-ms', String(this.options.backoffInitialMs)] : []),
      ...(this.options.volumeSyncSeconds ? ['--volume-sync-seconds', String(this.options.volumeSyncSeconds)] : []),
      ...(this.options.clusterDns ? ['--cluster-dns', this.options.clusterDns] : []),
      ...(this.options.serveDns ? ['--serve-cluster-dns'] : []),
      ...Object.entries(labels).flatMap(([k, v]) => ['--label', `${k}=${v}`]),
    ];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const node: CloudNode = {
      name: request.name,
      providerID: `local://${request.name}`,
      instanceType: request.instanceType,
      zone: request.zone,
      state: 'pending',
      labels,
    };
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    this.nodes.set(request.name, { node, child, exited });
    const ready = new Promise<void>((resolve, reject) => {
      for (const stream of [child.stdout!, child.stderr!]) {
        createInterface({ input: stream }).on('line', (line) => {
          if (line === 'ready') {
            node.state = 'running';
            resolve();
          }
          this.log(`${request.name}: ${line}`);
        });
      }
      child.once('exit', (code) => reject(new Error(`kubelet ${request.name} exited with ${code} before it was ready`)));
    });
    await ready;
    return node;
  }

  /** The kubelet's process id (tests kill it to make a node fail). */
  pid(name: string): number | undefined {
    return this.nodes.get(name)?.child.pid;
  }

  async delete(name: string): Promise<void> {
    const entry = this.nodes.get(name);
    if (!entry) return;
    entry.node.state = 'terminating';
    if (entry.child.exitCode === null && entry.child.signalCode === null) {
      entry.child.kill('SIGTERM');
      const timer = setTimeout(() => entry.child.kill('SIGKILL'), 60_000);
      await entry.exited;
      clearTimeout(timer);
    } else {
      // The kubelet died: what it started is still running. Stop it as the kubelet would have.
      const runtime = createRuntime(this.options.runtime, { dataDir: this.nodeDir(name), node: name, dockerSocket: this.options.dockerSocket });
      for (const c of await runtime.list()) {
        await runtime.stop(c.id, 0);
        await runtime.remove(c.id);
      }
    }
    this.nodes.delete(name);
    this.ranges.delete(name);
  }

  async get(name: string): Promise<CloudNode | undefined> {
    return this.nodes.get(name)?.node;
  }

  async list(): Promise<CloudNode[]> {
    return [...this.nodes.values()].map((e) => e.node);
  }

  async close(): Promise<void> {
    await Promise.all([...this.nodes.keys()].map((n) => this.delete(n)));
  }
}
