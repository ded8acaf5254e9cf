/**
 * Node bootstrap tokens, as Kubernetes keeps them (what `kubeadm token create` writes): a Secret
 * `bootstrap-token-<id>` in kube-system of type `bootstrap.kubernetes.io/token` holding
 * `token-id`, `token-secret`, `expiration` and `usage-bootstrap-authentication: "true"`. The
 * token `<id>.<secret>` signs in as `system:bootstrap:<id>` in `system:bootstrappers` (and the
 * Secret's `auth-extra-groups`), which may do one thing: exchange it for a node's own
 * credential (`nodes/<name>/credential`). A token past its expiration, or whose Secret is gone,
 * signs in no one.
 */
import { createHash, randomInt, timingSafeEqual } from 'node:crypto';
import type { KubeObject } from '../store/object.js';
import type { Store } from '../store/types.js';
import type { UserInfo } from './authorizer.js';

export const BOOTSTRAP_GROUP = 'system:bootstrappers';
export const BOOTSTRAP_SECRET_TYPE = 'bootstrap.kubernetes.io/token';
const FORMAT = /^([a-z0-9]{6})\.([a-z0-9]{16})$/;

const digest = (text: string) => createHash('sha256').update(text).digest();

export async function authenticateBootstrapToken(store: Store, token: string, now = Date.now()): Promise<UserInfo | undefined> {
  const m = FORMAT.exec(token);
  if (!m) return undefined;
  const [, id, secret] = m;
  const stored = (await store.get('secrets', 'kube-system', `bootstrap-token-${id}`).catch(() => undefined)) as
    | (KubeObject & { type?: string; data?: Record<string, string> })
    | undefined;
  if (!stored || stored.type !== BOOTSTRAP_SECRET_TYPE || stored.metadata.deletionTimestamp) return undefined;
  const field = (key: string) => Buffer.from(stored.data?.[key] ?? '', 'base64').toString('utf8');
  if (field('token-id') !== id || field('usage-bootstrap-authentication') !== 'true') return undefined;
  if (!timingSafeEqual(digest(field('token-secret')), digest(secret))) return undefined;
  const expiration = field('expiration');
  if (expiration && !(Date.parse(expiration) > now)) return undefined;
  const extra = field('auth-extra-groups')
    .split(',')
    .map((g) => g.trim())
    .filter((g) => g.startsWith(`${BOOTSTRAP_GROUP}:`));
  return { name: `system:bootstrap:${id}`, groups: [BOOTSTRAP_GROUP, ...extra] };
}

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';
const randomWord = (length: number) => Array.from({ length }, () => ALPHABET[randomInt(ALPHABET.length)]).join('');

/**
 * A new bootstrap token, as `kubeadm token create` makes one: its Secret in kube-system, expiring
 * after `ttlSeconds` (a cloud provider makes one for the nodes it launches, short-lived since
 * instance user data is readable by whoever may describe the instance). Returns `<id>.<secret>`.
 */
export async function createBootstrapToken(store: Store, options: { ttlSeconds: number; description?: string; now?: number }): Promise<string> {
  const id = randomWord(6);
  const secret = randomWord(16);
  const b64 = (v: string) => Buffer.from(v).toString('base64');
  await store.create('secrets', {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: `bootstrap-token-${id}`, namespace: 'kube-system' },
    type: BOOTSTRAP_SECRET_TYPE,
    data: {
      'token-id': b64(id),
      'token-secret': b64(secret),
      expiration: b64(new Date((options.now ?? Date.now()) + options.ttlSeconds * 1000).toISOString()),
      'usage-bootstrap-authentication': b64('true'),
      ...(options.description ? { description: b64(options.description) } : {}),
    },
  } as KubeObject);
  return `${id}.${secret}`;
}
