/**
 * The launch script that joins a worker to the cluster, the same on each cloud: the CA and the
 * bootstrap token in files only root reads, then the kubelet, named after the node, serving on
 * the worker's private address, with the providerID its metadata gives. An EC2 instance runs it
 * as user data (identity from the instance metadata service); the kubelet task of an `aws-ecs`
 * node runs it as its command (identity from the task metadata endpoint). The emulators pass the
 * same in the environment. It lists its pods every 10 s rather than hold a watch through the API
 * function, which would keep an invocation billed all the time.
 *
 * A script need not name its node: instances launched together by one fleet call share one
 * script, and each learns its node's name from its `skiff:node` tag (set once the fleet has
 * answered) through the instance metadata service, waiting until it is there.
 */
import { clusterRange } from '../net/cidr.js';
import type { LaunchRequest, NodeRequest, Taint } from './types.js';

/** Where the API serves the kubelet's one-file build (kubelet/bundle.ts), to bootstrap tokens and nodes. */
export const KUBELET_BUNDLE_PATH = '/skiff/v1/kubelet.mjs';

export interface KubeletScript {
  /**
   * The command that runs the kubelet on the worker. Absent (as in the cloud): the script fetches
   * the kubelet from the API it joins (`KUBELET_BUNDLE_PATH`, with the bootstrap token, trusting
   * only the cluster CA) and runs it with the worker's Node.js, installed from the distribution's
   * packages when missing.
   */
  kubelet?: string;
  server: string;
  caCert: string;
  bootstrapToken: string;
  /** The node; without a name, an EC2 worker reads it from its `skiff:node` tag. */
  node: NodeRequest | LaunchRequest;
  /** Where the worker learns who it is (default ec2). */
  identity?: 'ec2' | 'ecs';
  /** The pods' address range, where the kubelet chooses pod addresses (not on ECS). */
  podCidr?: string;
  /**
   * Instead: a cluster range (say `127.16.0.0/12`) the node takes a loopback /24 of, chosen by its
   * own loopback address (the EC2 emulator's 127.100.x.y), for the process runtime of nodes
   * sharing one machine.
   */
  loopbackPodCidr?: string;
  /** The kube-dns Service's address: the node answers it itself (`--serve-cluster-dns`), and pods resolve there. */
  clusterDns?: string;
  runtime?: 'docker' | 'process' | 'ecs';
  dockerSocket?: string;
  /** What the node offers, where the machine does not say it (an ECS node is no machine). */
  capacity?: { cpu: number; memory: number; pods: number };
  /** The most pods the node runs (an EC2 type's ENI limit), where `capacity` is not given. */
  maxPods?: number;
  /** List the node's pods this often instead of watching them through the API (default 10 s; 0: watch). */
  podPollSeconds?: number;
  /** Taints the node registers with (its instance type's). */
  taints?: Taint[];
  /** Environment for the kubelet (the ecs runtime's subnets, say). */
  env?: Record<string, string>;
}

/* biome-ignore-start lint/suspicious/noTemplateCurlyInString: shell parameter expansions, not templates */
const IDENTITY = {
  ec2: [
    'md=${AWS_EC2_METADATA_SERVICE_ENDPOINT:-http://169.254.169.254}',
    `imds() { curl -sf -H "X-aws-ec2-metadata-token: $(curl -sf -X PUT "$md/latest/api/token" -H 'X-aws-ec2-metadata-token-ttl-seconds: 60')" "$md/latest/meta-data/$1"; }`,
    'id=$(imds instance-id)',
    'zone=$(imds placement/availability-zone)',
    'address=$(imds local-ipv4)',
  ],
  ecs: [
    String.raw`meta() { wget -qO- "$ECS_CONTAINER_METADATA_URI_V4/task" | tr ',' '\n' | sed -n "s/.*\"$1\": *\[\{0,1\}\"\([^\"]*\)\".*/\1/p" | head -n 1; }`,
    'id=${ECS_TASK_ID:-$(meta TaskARN | sed "s#.*/##")}',
    'zone=${ECS_AVAILABILITY_ZONE:-$(meta AvailabilityZone)}',
    'address=${ECS_PRIVATE_IP:-$(meta IPv4Addresses)}',
  ],
};
/** Fetches `url` to `out` with the CA and token files given, in Node.js (present wherever the kubelet runs). */
const FETCH_JS = [
  'const [u, ca, tok, out] = process.argv.slice(1); const fs = require("fs");',
  'require(u.startsWith("https:") ? "https" : "http").get(u, { ca: fs.readFileSync(ca), headers: { authorization: "Bearer " + fs.readFileSync(tok, "utf8").trim() } }, (r) => {',
  '  if (r.statusCode !== 200) { console.error("fetching the kubelet: HTTP " + r.statusCode); process.exit(1); }',
  '  const f = fs.createWriteStream(out + ".part"); r.pipe(f); f.on("finish", () => { fs.renameSync(out + ".part", out); process.exit(0); });',
  '}).on("error", (e) => { console.error("fetching the kubelet: " + e.message); process.exit(1); });',
].join(' ');
const NODE_INSTALL =
  'command -v node >/dev/null 2>&1 || dnf install -y nodejs >/dev/null 2>&1 || yum install -y nodejs >/dev/null 2>&1 || (apt-get update && apt-get install -y nodejs) >/dev/null 2>&1 || true';

const quote = (v: string) => `'${v.replace(/'/g, `'\\''`)}'`;

/**
 * The lines that fetch the kubelet from the API (retried while the API is not reachable yet) to
 * `$dir/skiff-kubelet.mjs`, given the CA in `$dir/ca.crt` and the bootstrap token in `$dir/bootstrap`.
 */
export function fetchKubelet(server: string): string[] {
  const url = quote(`${server.replace(/\/$/, '')}${KUBELET_BUNDLE_PATH}`);
  return [NODE_INSTALL, `until node -e ${quote(FETCH_JS)} ${url} "$dir/ca.crt" "$dir/bootstrap" "$dir/skiff-kubelet.mjs"; do sleep 2; done`];
}

/** The node's name from its tag, once the launcher has set it. */
const NAME_FROM_TAG = 'until name=$(imds tags/instance/skiff:node); do sleep 1; done';
/* biome-ignore-end lint/suspicious/noTemplateCurlyInString: shell parameter expansions, not templates */

/** The /24 of the cluster range that the node's address picks (the EC2 emulator's are 127.100.x.y, apart by one). */
function loopbackCidr(cluster: string): string {
  const { base, size } = clusterRange(cluster);
  const pick = `n = ($3 * 256 + $4) % ${size / 256}; b = ${base} + n * 256`;
  return `cidr=$(echo "$address" | awk -F. '{ ${pick}; printf "%d.%d.%d.0/24", int(b / 16777216), int(b / 65536) % 256, int(b / 256) % 256 }')`;
}

export function kubeletUserData(s: KubeletScript): string {
  const labels = Object.entries(s.node.labels ?? {}).map(([k, v]) => `--label ${quote(`${k}=${v}`)}`);
  const identity = s.identity ?? 'ec2';
  const name = 'name' in s.node ? s.node.name : undefined;
  if (name === undefined && identity !== 'ec2') throw new Error('only an EC2 worker can learn its name from its tags');
  return [
    '#!/bin/sh',
    'set -e',
    'umask 077',
    'dir=$(mktemp -d)',
    ...IDENTITY[identity],
    name === undefined ? NAME_FROM_TAG : `name=${quote(name)}`,
    ...(s.loopbackPodCidr ? [loopbackCidr(s.loopbackPodCidr)] : []),
    `cat > "$dir/ca.crt" <<'SKIFF_CA'`,
    s.caCert.trim(),
    'SKIFF_CA',
    `printf '%s' ${quote(s.bootstrapToken)} > "$dir/bootstrap"`,
    ...Object.entries(s.env ?? {}).map(([k, v]) => `export ${k}=${quote(v)}`),
    ...(s.kubelet ? [] : fetchKubelet(s.server)),
    [
      `exec ${s.kubelet ?? 'node "$dir/skiff-kubelet.mjs"'}`,
      '--name "$name"',
      `--server ${quote(s.server)}`,
      '--ca-file "$dir/ca.crt"',
      '--bootstrap-token-file "$dir/bootstrap"',
      '--token-file "$dir/token"',
      '--data-dir "$dir/data"',
      `--runtime ${s.runtime ?? 'docker'}`,
      ...(s.dockerSocket ? [`--docker-socket ${quote(s.dockerSocket)}`] : []),
      ...(s.podCidr ? [`--pod-cidr ${quote(s.podCidr)}`] : s.loopbackPodCidr ? ['--pod-cidr "$cidr"'] : []),
      ...(s.capacity ? [`--cpu ${s.capacity.cpu}`, `--memory ${s.capacity.memory}`, `--pods ${s.capacity.pods}`] : []),
      ...(!s.capacity && s.maxPods ? [`--pods ${s.maxPods}`] : []),
      `--provider-id "aws-${identity}://$zone/$id"`,
      '--address "$address"',
      ...(s.clusterDns ? [`--cluster-dns ${quote(s.clusterDns)}`, '--serve-cluster-dns'] : []),
      ...((s.podPollSeconds ?? 10) > 0 ? [`--pod-poll-seconds ${s.podPollSeconds ?? 10}`] : []),
      ...(s.taints?.length
        ? [`--register-with-taints ${quote(s.taints.map((t) => `${t.key}${t.value !== undefined ? `=${t.value}` : ''}:${t.effect}`).join(','))}`]
        : []),
      `--label ${quote(`node.kubernetes.io/instance-type=${s.node.instanceType}`)}`,
      `--label ${quote(`topology.kubernetes.io/zone=${s.node.zone}`)}`,
      ...labels,
    ].join(' \\\n  '),
    '',
  ].join('\n');
}
