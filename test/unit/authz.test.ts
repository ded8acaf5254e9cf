/**
 * The pieces of authorization that are pure: reading a request's attributes from its path,
 * matching a rule as kube-apiserver's RBAC does, and the escalation check's breakdown.
 */
import { describe, expect, it } from 'vitest';
import { requestAttributes } from '../../functions/api/authz.js';
import { uncovered } from '../../shared/auth/escalation.js';
import { ruleAllows } from '../../shared/auth/rbac.js';

const user = { name: 'u', groups: [] };
const attrs = (method: string, path: string, query: Record<string, string> = {}) => {
  const { user: _, ...rest } = requestAttributes(user, method, path, (n) => query[n]);
  return Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined && v !== ''));
};

describe('request attributes', () => {
  it('reads verb, group, resource, subresource, name and namespace as kube-apiserver does', () => {
    expect(attrs('GET', '/api/v1/namespaces/default/pods')).toEqual({ verb: 'list', apiVersion: 'v1', resource: 'pods', namespace: 'default' });
    expect(attrs('GET', '/api/v1/pods', { watch: 'true' })).toEqual({ verb: 'watch', apiVersion: 'v1', resource: 'pods' });
    expect(attrs('GET', '/api/v1/namespaces/default/pods', { watch: '1', fieldSelector: 'metadata.name=web' })).toMatchObject({ verb: 'watch', name: 'web' });
    expect(attrs('DELETE', '/apis/apps/v1/namespaces/x/deployments')).toMatchObject({ verb: 'deletecollection', apiGroup: 'apps', resource: 'deployments' });
    expect(attrs('PUT', '/apis/apps/v1/namespaces/x/deployments/web/scale')).toMatchObject({
      verb: 'update',
      resource: 'deployments',
      name: 'web',
      subresource: 'scale',
    });
    // A namespace is named by the namespace it is.
    expect(attrs('GET', '/api/v1/namespaces/team')).toMatchObject({ verb: 'get', resource: 'namespaces', name: 'team', namespace: 'team' });
    expect(attrs('PUT', '/api/v1/namespaces/team/finalize')).toMatchObject({ verb: 'update', resource: 'namespaces', name: 'team', subresource: 'finalize' });
    expect(attrs('GET', '/api/v1/namespaces')).toMatchObject({ verb: 'list', resource: 'namespaces' });
    expect(attrs('GET', '/api/v1/namespaces/a%2Fb/configmaps/%E0%A4%A')).toMatchObject({ namespace: 'a/b', name: '%E0%A4%A' });
  });

  it('discovery and other paths are non-resource requests', () => {
    for (const path of ['/api', '/api/v1', '/apis', '/apis/apps', '/apis/apps/v1', '/openapi/v3', '/metrics']) {
      expect(attrs('GET', path)).toEqual({ verb: 'get', path });
    }
  });
});

describe('RBAC rules', () => {
  const on = (verb: string, apiGroup: string, resource: string, extra: Record<string, string> = {}) => ({ verb, apiGroup, resource, ...extra });

  it('matches verbs, groups, resources, subresources and names', () => {
    const rule = { verbs: ['get', 'list'], apiGroups: ['apps'], resources: ['deployments', '*/scale'] };
    expect(ruleAllows(rule, on('get', 'apps', 'deployments'))).toBe(true);
    expect(ruleAllows(rule, on('delete', 'apps', 'deployments'))).toBe(false);
    expect(ruleAllows(rule, on('get', '', 'deployments'))).toBe(false);
    expect(ruleAllows(rule, on('get', 'apps', 'replicasets', { subresource: 'scale' }))).toBe(true);
    // A subresource is its own resource: deployments does not cover deployments/status.
    expect(ruleAllows(rule, on('get', 'apps', 'deployments', { subresource: 'status' }))).toBe(false);
    const named = { verbs: ['get', 'list'], apiGroups: [''], resources: ['configmaps'], resourceNames: ['app'] };
    expect(ruleAllows(named, on('get', '', 'configmaps', { name: 'app' }))).toBe(true);
    expect(ruleAllows(named, on('get', '', 'configmaps', { name: 'other' }))).toBe(false);
    // A list names no object, so a rule limited to names never allows it.
    expect(ruleAllows(named, on('list', '', 'configmaps'))).toBe(false);
  });

  it('matches paths exactly or by a trailing *', () => {
    const rule = { verbs: ['get'], nonResourceURLs: ['/healthz', '/apis/*'] };
    expect(ruleAllows(rule, { verb: 'get', path: '/healthz' })).toBe(true);
    expect(ruleAllows(rule, { verb: 'get', path: '/healthz/ping' })).toBe(false);
    expect(ruleAllows(rule, { verb: 'get', path: '/apis/apps/v1' })).toBe(true);
    expect(ruleAllows(rule, { verb: 'post', path: '/apis/apps/v1' })).toBe(false);
    expect(ruleAllows(rule, { verb: 'get', resource: 'pods', apiGroup: '' })).toBe(false);
  });

  it('escalation: what is asked for is broken down, and * is covered only by *', () => {
    const held = [{ verbs: ['get', 'list', 'watch'], apiGroups: [''], resources: ['pods', 'configmaps'] }];
    expect(uncovered(held, [{ verbs: ['get'], apiGroups: [''], resources: ['pods'] }])).toEqual([]);
    expect(uncovered(held, [{ verbs: ['get', 'delete'], apiGroups: [''], resources: ['pods', 'secrets'] }])).toEqual([
      { verbs: ['get'], apiGroups: [''], resources: ['secrets'] },
      { verbs: ['delete'], apiGroups: [''], resources: ['pods'] },
      { verbs: ['delete'], apiGroups: [''], resources: ['secrets'] },
    ]);
    expect(uncovered(held, [{ verbs: ['*'], apiGroups: [''], resources: ['pods'] }])).toHaveLength(1);
    expect(uncovered([{ verbs: ['*'], apiGroups: ['*'], resources: ['*'] }], [{ verbs: ['*'], apiGroups: ['apps'], resources: ['*'] }])).toEqual([]);
    expect(uncovered(held, [{ verbs: ['get'], apiGroups: [''], resources: ['pods'], resourceNames: ['a'] }])).toEqual([]);
    // Covered means allowed by the authorizer: `pods/*` grants no subresource, so it covers none.
    expect(
      uncovered(
        [{ verbs: ['get'], apiGroups: [''], resources: ['pods/*', '*/scale'] }],
        [{ verbs: ['get'], apiGroups: [''], resources: ['pods/log', 'deployments/scale'] }],
      ),
    ).toEqual([{ verbs: ['get'], apiGroups: [''], resources: ['pods/log'] }]);
    expect(uncovered([{ verbs: ['get'], nonResourceURLs: ['/apis/*'] }], [{ verbs: ['get'], nonResourceURLs: ['/apis/apps', '/metrics'] }])).toEqual([
      { verbs: ['get'], nonResourceURLs: ['/metrics'] },
    ]);
  });
});
