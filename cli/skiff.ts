#!/usr/bin/env node
/**
 * The `skiff` command. `skiff up` runs the control plane on the embedded default
 * (`npm start` runs it with the defaults); `skiff token` makes, lists and revokes its tokens;
 * `skiff keys` lists and rotates the keys Secrets are sealed under; `skiff migrate` moves the
 * nodes to another provider; `skiff dashboard` prints a sign-in link to the dashboard.
 */
import { serviceRange } from '../shared/api/service-allocation.js';
import { clusterRange } from '../shared/net/cidr.js';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { auditPolicyFrom } from '../shared/auth/audit-policy.js';
import { jwtIssuersFrom } from '../shared/auth/oidc.js';
import { DASHBOARD_USAGE, dashboard } from './dashboard.js';
import { KEYS_USAGE, keys } from './keys.js';
import { MIGRATE_USAGE, migrate } from './migrate.js';
import { TOKEN_USAGE, token } from './token.js';
import { up } from './up.js';

const USAGE = `usage: skiff up [--shape embedded|aws-local] [--provider local|aws-ec2|aws-ecs [--provision] [--consolidate-seconds 30]] [--data-dir ./.skiff] [--port 6443] [--host 127.0.0.1] [--nodes 2] [--runtime process|docker|auto]
                [--docker-socket /var/run/docker.sock] [--node-grace-seconds 40] [--eviction-seconds 300]
                [--ingress-http-port 8080] [--ingress-https-port 8443]   (the Ingress controller's; 0: a free port)
                [--service-cidr 127.96.0.0/16]       (where ClusterIPs come from; on loopback)
                [--cluster-cidr 127.16.0.0/12]       (where each node's pod addresses, a /24, come from)
                [--authentication-config auth.yaml]   (an AuthenticationConfiguration: OIDC issuers for CI and people)
                [--dashboard-client-id skiff]         (the dashboard signs people in with the issuer that has this audience)
                [--audit-policy-file policy.yaml]     (an audit.k8s.io/v1 Policy; default: Metadata for all)
${TOKEN_USAGE}
${KEYS_USAGE}
${MIGRATE_USAGE}
${DASHBOARD_USAGE}`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === 'token') return token(rest);
  if (command === 'keys') return keys(rest);
  if (command === 'migrate') return migrate(rest);
  if (command === 'dashboard') return dashboard(rest);
  if (command !== 'up') {
    console.error(command ? `unknown command "${command}"\n${USAGE}` : USAGE);
    return 2;
  }
  const { values } = parseArgs({
    args: rest,
    options: {
      'data-dir': { type: 'string', default: './.skiff' },
      port: { type: 'string', default: '6443' },
      host: { type: 'string', default: '127.0.0.1' },
      nodes: { type: 'string', default: '2' },
      runtime: { type: 'string', default: 'auto' },
      'docker-socket': { type: 'string' },
      'node-grace-seconds': { type: 'string' },
      'eviction-seconds': { type: 'string' },
      'lease-interval-ms': { type: 'string' },
      'history-interval-ms': { type: 'string' },
      'backoff-initial-ms': { type: 'string' },
      'volume-sync-seconds': { type: 'string' },
      // As kube-controller-manager's flags, in seconds.
      'horizontal-pod-autoscaler-sync-period': { type: 'string' },
      'horizontal-pod-autoscaler-downscale-stabilization': { type: 'string' },
      'authentication-config': { type: 'string' },
      'dashboard-client-id': { type: 'string' },
      'audit-policy-file': { type: 'string' },
      shape: { type: 'string', default: 'embedded' },
      provider: { type: 'string', default: 'local' },
      provision: { type: 'boolean', default: false },
      'consolidate-seconds': { type: 'string' },
      'service-cidr': { type: 'string' },
      'cluster-cidr': { type: 'string' },
      'ingress-http-port': { type: 'string', default: '8080' },
      'ingress-https-port': { type: 'string', default: '8443' },
    },
    strict: true,
  });
  const port = Number(values.port);
  const nodes = Number(values.nodes);
  const runtime = values.runtime as 'process' | 'docker' | 'auto';
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port must be a port number, got ${values.port}`);
  if (!Number.isInteger(nodes) || nodes < 0) throw new Error(`--nodes must be a whole number, got ${values.nodes}`);
  if (!['process', 'docker', 'auto'].includes(runtime)) throw new Error(`--runtime must be process, docker or auto, got ${values.runtime}`);
  const seconds = (
    name:
      | 'node-grace-seconds'
      | 'eviction-seconds'
      | 'lease-interval-ms'
      | 'history-interval-ms'
      | 'backoff-initial-ms'
      | 'volume-sync-seconds'
      | 'horizontal-pod-autoscaler-sync-period'
      | 'horizontal-pod-autoscaler-downscale-stabilization',
  ) => {
    const v = values[name];
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0) throw new Error(`--${name} must be a number of at least 0, got ${v}`);
    return n;
  };
  if (values.shape !== 'embedded' && values.shape !== 'aws-local') throw new Error(`--shape must be embedded or aws-local, got ${values.shape}`);
  if (!['local', 'aws-ec2', 'aws-ecs'].includes(values.provider ?? '')) throw new Error(`--provider must be local, aws-ec2 or aws-ecs, got ${values.provider}`);
  if (values.provider !== 'local' && values.shape !== 'aws-local')
    throw new Error(`--provider ${values.provider} runs on the emulated cloud: add --shape aws-local`);
  if (values.provision && values.provider === 'local') throw new Error('--provision adds cloud nodes: add --shape aws-local --provider aws-ec2 (or aws-ecs)');
  if (values['service-cidr']) {
    // Checked here, read by the API wherever it runs (SKIFF_SERVICE_CIDR).
    serviceRange(values['service-cidr']);
    process.env.SKIFF_SERVICE_CIDR = values['service-cidr'];
  }
  if (values['cluster-cidr']) clusterRange(values['cluster-cidr']);
  const start = values.shape === 'aws-local' ? (await import('./aws-local.js')).upAwsLocal : up;
  const running = await start({
    dataDir: values['data-dir']!,
    port,
    host: values.host!,
    nodes,
    runtime,
    dockerSocket: values['docker-socket'],
    provider: values.provider as 'local' | 'aws-ec2' | 'aws-ecs',
    provision: values.provision,
    consolidateSeconds: values['consolidate-seconds'] !== undefined ? Number(values['consolidate-seconds']) : undefined,
    nodeGraceSeconds: seconds('node-grace-seconds'),
    evictionSeconds: seconds('eviction-seconds'),
    leaseIntervalMs: seconds('lease-interval-ms'),
    historyIntervalMs: seconds('history-interval-ms'),
    backoffInitialMs: seconds('backoff-initial-ms'),
    volumeSyncSeconds: seconds('volume-sync-seconds'),
    hpaSyncSeconds: seconds('horizontal-pod-autoscaler-sync-period'),
    hpaDownscaleStabilizationSeconds: seconds('horizontal-pod-autoscaler-downscale-stabilization'),
    clusterCidr: values['cluster-cidr'],
    ingressPorts: { http: Number(values['ingress-http-port']), https: Number(values['ingress-https-port']) },
    auditPolicy: values['audit-policy-file'] ? auditPolicyFrom(parseYaml(readFileSync(values['audit-policy-file'], 'utf8'))) : undefined,
    jwtIssuers: values['authentication-config'] ? jwtIssuersFrom(parseYaml(readFileSync(values['authentication-config'], 'utf8'))) : undefined,
    dashboardClientId: values['dashboard-client-id'],
  });
  await new Promise<void>((resolve) => {
    const stop = () => void running.stop().then(resolve);
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: Error) => {
    console.error(`skiff: ${err.message}`);
    process.exit(1);
  },
);
