/**
 * Authorization at the edge: every authenticated request becomes kube-apiserver's request
 * attributes (verb, API group, resource, subresource, name, namespace; or a path), is asked of
 * the authorizer, and is refused with a 403 Status in kube-apiserver's words when nothing
 * allows it. Impersonation headers are honoured only for a user allowed to `impersonate`.
 */
import type { Context } from 'hono';
import { type Attributes, type Authorizer, type UserInfo, forbiddenMessage } from '../../shared/auth/authorizer.js';
import { type ApiError, badRequest, forbidden } from '../../shared/api/status.js';

/** Methods as verbs, for a request that names one object (`named`) or a collection. */
function verbOf(method: string, named: boolean, watch: boolean): string {
  switch (method) {
    case 'GET':
    case 'HEAD':
      return watch ? 'watch' : named ? 'get' : 'list';
    case 'POST':
      return 'create';
    case 'PUT':
      return 'update';
    case 'PATCH':
      return 'patch';
    case 'DELETE':
      return named ? 'delete' : 'deletecollection';
    default:
      return method.toLowerCase();
  }
}

const STREAMS = new Set(['exec', 'attach', 'portforward']);

/** A path segment decoded; one that does not decode is taken as written (routing answers it 400). */
function decode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/** What a request asks for, read from its path as kube-apiserver's RequestInfoFactory reads it. */
export function requestAttributes(user: UserInfo, method: string, path: string, query: (name: string) => string | undefined): Attributes {
  const parts = path.split('/').filter((p) => p.length > 0);
  let rest: string[] | undefined;
  let apiGroup = '';
  let apiVersion = '';
  if (parts[0] === 'api' && parts.length >= 2) {
    apiVersion = parts[1];
    rest = parts.slice(2);
  } else if (parts[0] === 'apis' && parts.length >= 3) {
    apiGroup = parts[1];
    apiVersion = parts[2];
    rest = parts.slice(3);
  }
  if (!rest || rest.length === 0) return { user, verb: method.toLowerCase(), path };
  let namespace: string | undefined;
  if (rest[0] === 'namespaces' && rest.length >= 2) {
    namespace = decode(rest[1]);
    // `namespaces/<ns>` and `namespaces/<ns>/<sub>` name the namespace itself.
    rest =
      rest.length === 2
        ? ['namespaces', rest[1]]
        : rest.length === 3 && ['status', 'finalize'].includes(rest[2])
          ? ['namespaces', rest[1], rest[2]]
          : rest.slice(2);
  }
  const [resource, name, subresource] = rest.map(decode);
  const watch = ['true', '1'].includes(query('watch') ?? '');
  const fieldSelector = query('fieldSelector') || undefined;
  // A watch or list of one object by `metadata.name` is a request on that object.
  const byName = name ?? (/^metadata\.name==?([^,]+)$/.exec(fieldSelector ?? '')?.[1] || undefined);
  // A stream is a create whatever its method: WebSocket upgrades are GETs, and a user who may only
  // read pods must not exec into them (kube-apiserver's AuthorizePodWebsocketUpgradeCreatePermission).
  const stream = resource === 'pods' && subresource !== undefined && STREAMS.has(subresource);
  const verb = stream ? 'create' : verbOf(method, name !== undefined, watch);
  return { user, verb, apiGroup, apiVersion, resource, subresource, name: byName, namespace, fieldSelector };
}

/** The 403 kube-apiserver answers: `<resource> "<name>" is forbidden: User ... cannot ...`. */
export function forbiddenError(a: Attributes, reason?: string): ApiError {
  const why = `${forbiddenMessage(a)}${reason ? `: ${reason}` : ''}`;
  if (a.resource === undefined) return forbidden(`forbidden: ${why}`);
  const qualified = a.apiGroup ? `${a.resource}.${a.apiGroup}` : a.resource;
  return forbidden(`${qualified}${a.name ? ` "${a.name}"` : ''} is forbidden: ${why}`, { name: a.name, group: a.apiGroup || undefined, kind: a.resource });
}

/**
 * The user a request acts as: its own, or the one it impersonates (`Impersonate-User`,
 * `-Group`, `-Uid`, `-Extra-<key>`), each of which it must be allowed to `impersonate`.
 */
export function effectiveUser(c: Context, user: UserInfo, authorizer: Authorizer): UserInfo | Promise<UserInfo> {
  const headers = c.req.raw.headers;
  const asUser = headers.get('impersonate-user') ?? undefined;
  const asGroups =
    headers
      .get('impersonate-group')
      ?.split(',')
      .map((g) => g.trim())
      .filter(Boolean) ?? [];
  const asUid = headers.get('impersonate-uid') ?? undefined;
  if (asUser === undefined) {
    // Extra values alone are not looked for: walking every header of every request costs, and
    // without a user to impersonate they change nothing.
    if (asGroups.length || asUid !== undefined) throw badRequest('requested impersonation of groups or uid without impersonating a user');
    return user;
  }
  return impersonate(user, authorizer, headers, asUser, asGroups, asUid);
}

async function impersonate(
  user: UserInfo,
  authorizer: Authorizer,
  headers: Headers,
  asUser: string,
  asGroups: string[],
  asUid: string | undefined,
): Promise<UserInfo> {
  const extra: Record<string, string[]> = {};
  for (const [key, value] of headers) {
    if (key.startsWith('impersonate-extra-')) extra[decode(key.slice('impersonate-extra-'.length))] = value.split(',').map((v) => v.trim());
  }
  const check = async (attributes: Omit<Attributes, 'user' | 'verb'>) => {
    const a: Attributes = { user, verb: 'impersonate', ...attributes };
    const decision = await authorizer.authorize(a);
    if (!decision.allowed) throw forbiddenError(a);
  };
  const sa = /^system:serviceaccount:([^:]+):([^:]+)$/.exec(asUser);
  await check(sa ? { apiGroup: '', resource: 'serviceaccounts', namespace: sa[1], name: sa[2] } : { apiGroup: '', resource: 'users', name: asUser });
  for (const g of asGroups) await check({ apiGroup: '', resource: 'groups', name: g });
  if (asUid !== undefined) await check({ apiGroup: 'authentication.k8s.io', resource: 'uids', name: asUid });
  for (const [key, values] of Object.entries(extra)) {
    for (const v of values) await check({ apiGroup: 'authentication.k8s.io', resource: 'userextras', subresource: key, name: v });
  }
  const groups = [...asGroups];
  if (sa) groups.push('system:serviceaccounts', `system:serviceaccounts:${sa[1]}`);
  if (asUser !== 'system:anonymous' && !groups.includes('system:authenticated')) groups.push('system:authenticated');
  return { name: asUser, uid: asUid, groups, extra: Object.keys(extra).length ? extra : undefined };
}
