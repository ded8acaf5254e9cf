/**
 * `skiff migrate --to <provider>`: moves the cluster's nodes to another provider by making a
 * skiff.dev/v1 Migration through the API (the migration controller carries it out, and resumes
 * it after any crash), then follows it with a progress bar until it is done; Ctrl-C stops the
 * following, not the migration. Asked again while one is under way, it follows that one.
 * `skiff migrate --status` shows every migration once. Both talk to the API with a kubeconfig,
 * as kubectl does.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { ApiClient, ApiRequestError } from '../kubelet/api-client.js';

export const MIGRATE_USAGE = `usage: skiff migrate --to PROVIDER [--no-wait] [--kubeconfig FILE]   (aws-ec2, aws-ecs, local)
       skiff migrate --status [--kubeconfig FILE]`;

const PATH = '/apis/skiff.dev/v1/migrations';

interface MigrationView {
  metadata: { name: string; creationTimestamp?: string };
  spec: { to: string };
  status?: { phase?: string; nodesTotal?: number; nodesLeft?: number; podsMoved?: number; message?: string };
}

/** The API client of a kubeconfig's current context (a token and the CA's certificate). */
export function clientFromKubeconfig(file: string): ApiClient {
  const config = parseYaml(readFileSync(file, 'utf8')) as {
    'current-context'?: string;
    contexts?: { name: string; context: { cluster: string; user: string } }[];
    clusters?: { name: string; cluster: { server: string; 'certificate-authority-data'?: string } }[];
    users?: { name: string; user: { token?: string } }[];
  };
  const context = config.contexts?.find((c) => c.name === config['current-context'])?.context ?? config.contexts?.[0]?.context;
  const cluster = config.clusters?.find((c) => c.name === context?.cluster)?.cluster;
  const token = config.users?.find((u) => u.name === context?.user)?.user.token;
  if (!cluster || !token) throw new Error(`${file} names no cluster and token to use`);
  const caData = cluster['certificate-authority-data'];
  return new ApiClient({ server: cluster.server, token, ca: caData ? Buffer.from(caData, 'base64').toString('utf8') : undefined });
}

/** `[########------------]  40%  2/5 nodes moved, 12 pods moved  (to aws-ecs: Migrating)` */
export function progressLine(m: MigrationView, width = 24): string {
  const s = m.status ?? {};
  const total = s.nodesTotal ?? 0;
  const done = s.phase === 'Complete' ? total : total - (s.nodesLeft ?? total);
  const share = s.phase === 'Complete' ? 1 : total ? done / total : 0;
  const filled = Math.round(share * width);
  const bar = `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}]`;
  const words = `${done}/${total} nodes moved, ${s.podsMoved ?? 0} pods moved`;
  const note = s.message ? `\n    ${s.message}` : '';
  return `${m.metadata.name}  ${bar} ${String(Math.round(share * 100)).padStart(3)}%  ${words}  (to ${m.spec.to}: ${s.phase ?? 'Pending'})${note}`;
}

const finished = (m: MigrationView) => m.status?.phase === 'Complete' || m.status?.phase === 'Failed';

async function follow(api: ApiClient, name: string, print: (line: string) => void): Promise<number> {
  let last = '';
  for (;;) {
    const m = await api.get<MigrationView>(`${PATH}/${name}`);
    const line = progressLine(m);
    if (line !== last) print(line);
    last = line;
    if (finished(m)) return m.status?.phase === 'Complete' ? 0 : 1;
    await new Promise((r) => setTimeout(r, 1000));
  }
}

export async function migrate(args: string[], print: (line: string) => void = console.log): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { to: { type: 'string' }, status: { type: 'boolean' }, 'no-wait': { type: 'boolean' }, kubeconfig: { type: 'string' } },
  });
  const file = values.kubeconfig ?? process.env.KUBECONFIG ?? join('.skiff', 'kubeconfig');
  if (!values.status && !values.to) {
    console.error(MIGRATE_USAGE);
    return 2;
  }
  const api = clientFromKubeconfig(file);
  try {
    const all = (await api.get<{ items: MigrationView[] }>(PATH)).items;
    if (values.status) {
      if (all.length === 0) print('no migrations');
      for (const m of all) print(progressLine(m));
      return 0;
    }
    const open = all.find((m) => !finished(m));
    if (open && open.spec.to !== values.to) {
      console.error(`skiff: a migration to ${open.spec.to} is under way (${open.metadata.name}); wait for it to end first`);
      return 1;
    }
    const name = open?.metadata.name ?? `to-${values.to}-${Date.now().toString(36)}`;
    if (open) print(`following ${name}, under way since ${open.metadata.creationTimestamp ?? 'earlier'}`);
    else {
      await api.request('POST', PATH, { apiVersion: 'skiff.dev/v1', kind: 'Migration', metadata: { name }, spec: { to: values.to } });
      print(`started ${name}: nodes of other providers are cordoned and drained, replicas kept available`);
    }
    return values['no-wait'] ? 0 : await follow(api, name, print);
  } catch (err) {
    if (err instanceof ApiRequestError) {
      console.error(`skiff: ${err.message}`);
      return 1;
    }
    throw err;
  } finally {
    api.close();
  }
}
