/**
 * CustomResourceDefinitions with the real kubectl, on the API with its controllers: a CRD is
 * Established and its kind is in discovery within a second; custom resources are pruned,
 * defaulted and validated by the structural schema with kube-apiserver's messages; printer
 * columns, short names, categories and selectable fields in `kubectl get`; `kubectl explain` reads the schema;
 * status and scale subresources (`kubectl scale`); two versions served with `None` conversion
 * (a deprecated one warns); server-side apply; validation rules (CEL), transition rules among them; CRDs that are
 * not structural, or whose rules do not compile, are refused; a namespace's and an owner's
 * deletion take custom resources with them; deleting the CRD deletes its objects and stops
 * serving the kind. The same custom resources through client-node.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type ControlledCluster, kubectlCalls, startControlledCluster } from '../support/api-server.js';
import { TEST_SHAPE } from '../support/shape.js';
import { type KubernetesList, type KubernetesObject, k8s } from '../support/client-node.js';

type At = { group: string; version: string; namespace: string; plural: string };
interface CustomObjects {
  createNamespacedCustomObject(at: At & { body: object }): Promise<KubernetesObject>;
  getNamespacedCustomObject(at: At & { name: string }): Promise<KubernetesObject>;
  listNamespacedCustomObject(at: At): Promise<KubernetesList>;
  patchNamespacedCustomObject(at: At & { name: string; body: object }, options: unknown): Promise<KubernetesObject>;
  deleteNamespacedCustomObject(at: At & { name: string }): Promise<unknown>;
}

let cluster: ControlledCluster;
beforeAll(async () => {
  cluster = await startControlledCluster(0);
});
afterAll(() => cluster?.stop());

const { ok, refused } = kubectlCalls(() => cluster);
/**
 * The AWS shape's loop (a stream poll, an invocation in another process, a DynamoDB Local write
 * per hop) is slower, and slower still on a loaded machine: its waits are three times as long.
 */
const PATIENCE = TEST_SHAPE === 'aws-local' ? 3 : 1;
const eventually = (assertion: () => Promise<void>) => vi.waitFor(assertion, { timeout: 15_000 * PATIENCE, interval: 100 });
const within = (seconds: number) => `--timeout=${seconds * PATIENCE}s`;
vi.setConfig({ testTimeout: 60_000 * PATIENCE });

const schema = {
  type: 'object',
  properties: {
    spec: {
      type: 'object',
      required: ['cronSpec'],
      properties: {
        cronSpec: { type: 'string', pattern: '^(\\d+|\\*)(/\\d+)?(\\s+(\\d+|\\*)(/\\d+)?){4}$', description: 'When the job runs, in cron syntax.' },
        image: { type: 'string' },
        replicas: { type: 'integer', minimum: 1, maximum: 10, default: 1 },
        mode: { type: 'string', enum: ['fast', 'safe'], default: 'safe' },
        labels: { type: 'object', additionalProperties: { type: 'string' } },
        port: { 'x-kubernetes-int-or-string': true },
        extra: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
      },
    },
    status: { type: 'object', properties: { replicas: { type: 'integer' }, phase: { type: 'string' } } },
  },
};

const crd = (versions: object[]) =>
  JSON.stringify({
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: 'crontabs.stable.example.com' },
    spec: {
      group: 'stable.example.com',
      scope: 'Namespaced',
      names: { plural: 'crontabs', singular: 'crontab', kind: 'CronTab', shortNames: ['ct'], categories: ['all'] },
      versions,
    },
  });

const v1 = {
  name: 'v1',
  served: true,
  storage: true,
  schema: { openAPIV3Schema: schema },
  subresources: { status: {}, scale: { specReplicasPath: '.spec.replicas', statusReplicasPath: '.status.replicas' } },
  selectableFields: [{ jsonPath: '.spec.mode' }],
  additionalPrinterColumns: [
    { name: 'Spec', type: 'string', jsonPath: '.spec.cronSpec' },
    { name: 'Replicas', type: 'integer', jsonPath: '.spec.replicas' },
    { name: 'Phase', type: 'string', jsonPath: '.status.phase' },
    { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
  ],
};
const v1beta1 = { name: 'v1beta1', served: true, storage: false, deprecated: true, schema: { openAPIV3Schema: schema } };

const cronTab = (name: string, spec: object, apiVersion = 'stable.example.com/v1') =>
  JSON.stringify({ apiVersion, kind: 'CronTab', metadata: { name, namespace: 'default' }, spec });

describe('CustomResourceDefinitions', () => {
  it('a CRD is Established, its kind in discovery within a second, with its short name and category', async () => {
    await ok(['apply', '-f', '-'], crd([v1, v1beta1]));
    await ok(['wait', '--for=condition=Established', 'crd/crontabs.stable.example.com', within(10)]);
    // The request's own connection made first (the AWS shape's function may start cold): what is timed is the CRD's serving.
    expect((await cluster.api('/apis')).status).toBe(200);
    const established = Date.now();
    await vi.waitFor(async () => expect((await cluster.api('/apis/stable.example.com/v1')).status).toBe(200), { timeout: 5000, interval: 20 });
    expect(Date.now() - established).toBeLessThan(1000);
    expect(await ok(['api-resources', '--api-group=stable.example.com', '--cached=false'])).toMatch(
      /^crontabs\s+ct\s+stable\.example\.com\/v1\s+true\s+CronTab$/m,
    );
    const status = JSON.parse(await ok(['get', 'crd', 'crontabs.stable.example.com', '-o', 'json'])).status;
    expect(status.acceptedNames).toMatchObject({ plural: 'crontabs', kind: 'CronTab', listKind: 'CronTabList', shortNames: ['ct'] });
    expect(status.storedVersions).toEqual(['v1']);
    expect(status.conditions.map((c: { type: string; status: string }) => `${c.type}=${c.status}`).sort()).toEqual(['Established=True', 'NamesAccepted=True']);
    expect(await ok(['get', 'crd'])).toMatch(/^crontabs\.stable\.example\.com\s+\d{4}-\d\d-\d\dT/m);
    // A second CRD of the group wanting a name the first holds: not accepted, not served.
    const rival = JSON.parse(crd([v1]));
    rival.metadata.name = 'crons.stable.example.com';
    rival.spec.names = { plural: 'crons', singular: 'cron', kind: 'CronTab', shortNames: ['cr'] };
    await ok(['apply', '-f', '-'], JSON.stringify(rival));
    await eventually(async () => {
      const conditions = JSON.parse(await ok(['get', 'crd', 'crons.stable.example.com', '-o', 'json'])).status.conditions;
      expect(conditions.find((c: { type: string }) => c.type === 'NamesAccepted')).toMatchObject({
        status: 'False',
        reason: 'KindConflict',
        message: '"CronTab" is already in use',
      });
      expect(conditions.find((c: { type: string }) => c.type === 'Established')?.status).toBe('False');
    });
    expect((await cluster.api('/apis/stable.example.com/v1')).json().resources.map((r: { name: string }) => r.name)).not.toContain('crons');
    await ok(['delete', 'crd', 'crons.stable.example.com']);
  });

  it('custom resources are defaulted and shown with the printer columns; the schema refuses bad ones in kube-apiserver’s words', async () => {
    const withStatus = JSON.parse(cronTab('nightly', { cronSpec: '0 3 * * *', image: 'busybox', port: 'http', labels: { a: 'b' } }));
    await ok(['apply', '-f', '-'], JSON.stringify({ ...withStatus, status: { phase: 'Made up' } }));
    const stored = JSON.parse(await ok(['get', 'ct', 'nightly', '-o', 'json']));
    // The status subresource: a create's status is dropped, as kube-apiserver drops it.
    expect(stored.status).toBeUndefined();
    expect(stored.spec).toEqual({ cronSpec: '0 3 * * *', image: 'busybox', port: 'http', labels: { a: 'b' }, replicas: 1, mode: 'safe' });
    expect(await ok(['get', 'crontabs'])).toMatch(/^NAME\s+SPEC\s+REPLICAS\s+PHASE\s+AGE\nnightly\s+0 3 \* \* \*\s+1\s+\d+s\n$/);

    expect(await refused(['apply', '-f', '-'], cronTab('big', { cronSpec: '* * * * *', replicas: 15 }))).toBe(
      'The CronTab "big" is invalid: spec.replicas: Invalid value: 15: spec.replicas in body should be less than or equal to 10',
    );
    const many = await refused(['apply', '-f', '-'], cronTab('bad', { cronSpec: 'sometimes', replicas: 'two', mode: 'slow', port: true }));
    expect(many).toContain('The CronTab "bad" is invalid:');
    expect(many).toContain(
      `spec.cronSpec: Invalid value: "sometimes": spec.cronSpec in body should match '${schema.properties.spec.properties.cronSpec.pattern}'`,
    );
    expect(many).toContain('spec.replicas: Invalid value: "string": spec.replicas in body must be of type integer: "string"');
    expect(many).toContain('spec.mode: Unsupported value: "slow": supported values: "fast", "safe"');
    expect(many).toContain('spec.port: Invalid value: "boolean": spec.port in body must be of type integer,string: "boolean"');
    expect(await refused(['apply', '-f', '-'], cronTab('none', { image: 'x' }))).toContain('spec.cronSpec: Required value');
    // kubectl asks for strict field validation: an unknown field is refused by name...
    expect(await refused(['apply', '-f', '-'], cronTab('typo', { cronSpec: '* * * * *', imagee: 'x' }))).toContain('unknown field "spec.imagee"');
    // ...and pruned when it is not, except where the schema keeps unknown fields.
    await ok(['apply', '--validate=false', '-f', '-'], cronTab('pruned', { cronSpec: '* * * * *', imagee: 'x', extra: { any: { thing: 1 } } }));
    const pruned = JSON.parse(await ok(['get', 'ct', 'pruned', '-o', 'json']));
    expect(pruned.spec).toEqual({ cronSpec: '* * * * *', extra: { any: { thing: 1 } }, replicas: 1, mode: 'safe' });
    expect(await ok(['get', 'all', '-o', 'name'])).toContain('crontab.stable.example.com/nightly');
    // selectableFields: a field selector on the custom resource's own field; others are refused.
    expect((await ok(['get', 'ct', '--field-selector', 'spec.mode=safe', '-o', 'name'])).trim().split('\n').sort()).toEqual([
      'crontab.stable.example.com/nightly',
      'crontab.stable.example.com/pruned',
    ]);
    expect(await refused(['get', 'ct', '--field-selector', 'spec.image=busybox'])).toContain('field label not supported: spec.image');
  });

  it('kubectl explain reads the schema; the status and scale subresources; a merge patch', async () => {
    expect(await ok(['explain', 'crontab.spec.cronSpec'])).toContain('When the job runs, in cron syntax.');
    await ok(['scale', 'crontab/nightly', '--replicas=3']);
    expect(await ok(['get', 'ct', 'nightly', '-o', 'jsonpath={.spec.replicas}'])).toBe('3');
    expect(await refused(['scale', 'crontab/nightly', '--replicas=30'])).toContain('spec.replicas in body should be less than or equal to 10');
    // Status is written only through /status; the main resource keeps it.
    await ok(['patch', 'ct', 'nightly', '--subresource=status', '--type=merge', '-p', '{"status":{"replicas":3,"phase":"Running"}}']);
    await ok(['patch', 'ct', 'nightly', '--type=merge', '-p', '{"spec":{"image":"busybox:2"},"status":{"phase":"Ignored"}}']);
    const now = JSON.parse(await ok(['get', 'ct', 'nightly', '-o', 'json']));
    expect([now.spec.image, now.status]).toEqual(['busybox:2', { replicas: 3, phase: 'Running' }]);
    expect(JSON.parse(await ok(['get', '--raw', '/apis/stable.example.com/v1/namespaces/default/crontabs/nightly/scale']))).toMatchObject({
      kind: 'Scale',
      spec: { replicas: 3 },
      status: { replicas: 3 },
    });
    // A custom resource takes no strategic merge patch (it has no patch strategies).
    expect(await refused(['patch', 'ct', 'nightly', '--type=strategic', '-p', '{"spec":{"image":"x"}}'])).toContain(
      'application/strategic-merge-patch+json is not supported by stable.example.com/v1, Kind=CronTab',
    );
  });

  it('both versions serve the same objects; the deprecated one warns; server-side apply owns fields', async () => {
    const r = await cluster.kubectl(['get', 'crontabs.v1beta1.stable.example.com', 'nightly', '-o', 'json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).apiVersion).toBe('stable.example.com/v1beta1');
    expect(r.stderr).toContain('Warning: stable.example.com/v1beta1 CronTab is deprecated; use stable.example.com/v1 CronTab');
    await ok(['apply', '-f', '-'], cronTab('old', { cronSpec: '1 * * * *' }, 'stable.example.com/v1beta1'));
    // Server-side apply: fields owned by their manager, a conflict named, --force-conflicts takes them.
    await ok(['apply', '--server-side', '--field-manager=ci', '-f', '-'], cronTab('applied', { cronSpec: '2 * * * *', image: 'a' }));
    expect(await refused(['apply', '--server-side', '--field-manager=other', '-f', '-'], cronTab('applied', { cronSpec: '2 * * * *', image: 'b' }))).toContain(
      'conflict with "ci": .spec.image',
    );
    await ok(['apply', '--server-side', '--field-manager=other', '--force-conflicts', '-f', '-'], cronTab('applied', { cronSpec: '2 * * * *', image: 'b' }));
    expect(await ok(['get', 'ct', 'applied', '-o', 'jsonpath={.spec.image}'])).toBe('b');
    expect(JSON.parse(await ok(['get', 'ct', 'old', '-o', 'json'])).apiVersion).toBe('stable.example.com/v1');
  });

  it('@kubernetes/client-node reads, writes and watches custom resources (CustomObjectsApi)', async () => {
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(cluster.server.kubeconfigPath);
    const custom = kc.makeApiClient((k8s as unknown as { CustomObjectsApi: abstract new (...args: never[]) => CustomObjects }).CustomObjectsApi);
    const at = { group: 'stable.example.com', version: 'v1', namespace: 'default', plural: 'crontabs' };
    const seen: string[] = [];
    const watch = await new k8s.Watch(kc).watch(
      '/apis/stable.example.com/v1/namespaces/default/crontabs',
      { resourceVersion: (await cluster.api('/apis/stable.example.com/v1/namespaces/default/crontabs')).json().metadata.resourceVersion },
      (type, object) => seen.push(`${type} ${object.metadata?.name} ${object.spec?.replicas}`),
      () => {},
    );
    const made = await custom.createNamespacedCustomObject({
      ...at,
      body: { apiVersion: 'stable.example.com/v1', kind: 'CronTab', metadata: { name: 'from-js' }, spec: { cronSpec: '5 * * * *' } },
    });
    expect(made.spec).toEqual({ cronSpec: '5 * * * *', replicas: 1, mode: 'safe' });
    const patched = await custom.patchNamespacedCustomObject(
      { ...at, name: 'from-js', body: { spec: { replicas: 2 } } },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
    expect(patched.spec?.replicas).toBe(2);
    expect((await custom.getNamespacedCustomObject({ ...at, name: 'from-js' })).metadata?.uid).toBe(made.metadata?.uid);
    expect((await custom.listNamespacedCustomObject(at)).items.map((i) => i.metadata?.name)).toContain('from-js');
    const invalid = await custom
      .createNamespacedCustomObject({
        ...at,
        body: { apiVersion: 'stable.example.com/v1', kind: 'CronTab', metadata: { name: 'js-bad' }, spec: { cronSpec: 'x' } },
      })
      .then(
        () => undefined,
        (err: { code?: number; body?: string }) => err,
      );
    expect(invalid?.code).toBe(422);
    expect(JSON.parse(invalid?.body ?? '{}').details.causes[0]).toMatchObject({ reason: 'FieldValueInvalid', field: 'spec.cronSpec' });
    await custom.deleteNamespacedCustomObject({ ...at, name: 'from-js' });
    await eventually(async () => expect(seen).toEqual(['ADDED from-js 1', 'MODIFIED from-js 2', 'DELETED from-js 2']));
    watch.abort();
  });

  it('a CRD that is not structural, has CEL rules, or a bad name is refused with the reason', async () => {
    const bad = (name: string, openAPIV3Schema: object, plural = 'widgets') =>
      JSON.stringify({
        apiVersion: 'apiextensions.k8s.io/v1',
        kind: 'CustomResourceDefinition',
        metadata: { name },
        spec: {
          group: 'example.com',
          scope: 'Cluster',
          names: { plural, kind: 'Widget' },
          versions: [{ name: 'v1', served: true, storage: true, schema: { openAPIV3Schema } }],
        },
      });
    expect(
      await refused(['apply', '-f', '-'], bad('widgets.example.com', { type: 'object', properties: { spec: { properties: { size: { type: 'integer' } } } } })),
    ).toContain('spec.versions[0].schema.openAPIV3Schema.properties[spec].type: Required value: must not be empty for specified object fields');
    const cel = {
      type: 'object',
      properties: { spec: { type: 'object', 'x-kubernetes-validations': [{ rule: 'self.sizes.isSorted()' }, { rule: 'self.size >' }] } },
    };
    const celRefused = await refused(['apply', '-f', '-'], bad('widgets.example.com', cel));
    expect(celRefused).toContain(
      `spec.versions[0].schema.openAPIV3Schema.properties[spec].x-kubernetes-validations[0].rule: Invalid value: "self.sizes.isSorted()": compilation failed: undeclared reference to 'isSorted'`,
    );
    expect(celRefused).toContain('x-kubernetes-validations[1].rule: Invalid value: "self.size >": compilation failed:');
    expect(await refused(['apply', '-f', '-'], bad('gadgets.example.com', { type: 'object' }))).toContain(
      'metadata.name: Invalid value: "gadgets.example.com": must be spec.names.plural+"."+spec.group',
    );
    expect((await ok(['get', 'crd', '-o', 'name'])).trim()).toBe('customresourcedefinition.apiextensions.k8s.io/crontabs.stable.example.com');
  });

  it('validation rules (CEL) refuse what breaks them, transition rules what changes', async () => {
    const spec = {
      type: 'object',
      'x-kubernetes-validations': [
        { rule: 'self.minReplicas <= self.maxReplicas', message: 'minReplicas must not exceed maxReplicas' },
        {
          rule: "!has(self.tier) || self.tier.lowerAscii() != 'gold' || self.maxReplicas >= 3",
          messageExpression: "'gold needs 3 replicas, not ' + string(self.maxReplicas)",
        },
      ],
      properties: {
        minReplicas: { type: 'integer' },
        maxReplicas: { type: 'integer' },
        tier: { type: 'string' },
        region: { type: 'string', 'x-kubernetes-validations': [{ rule: 'self == oldSelf', message: 'Value is immutable' }] },
        owners: {
          type: 'array',
          items: { type: 'string' },
          'x-kubernetes-validations': [
            { rule: 'self.all(o, o.endsWith("@example.com"))', reason: 'FieldValueForbidden', message: 'owners must be at example.com' },
          ],
        },
      },
    };
    await ok(
      ['apply', '-f', '-'],
      JSON.stringify({
        apiVersion: 'apiextensions.k8s.io/v1',
        kind: 'CustomResourceDefinition',
        metadata: { name: 'pools.example.com' },
        spec: {
          group: 'example.com',
          scope: 'Cluster',
          names: { plural: 'pools', kind: 'Pool' },
          versions: [{ name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: { type: 'object', properties: { spec } } } }],
        },
      }),
    );
    await ok(['wait', '--for=condition=Established', 'crd/pools.example.com', within(10)]);
    const pool = (name: string, s: object) => JSON.stringify({ apiVersion: 'example.com/v1', kind: 'Pool', metadata: { name }, spec: s });
    await eventually(async () =>
      expect(await ok(['apply', '-f', '-'], pool('a', { minReplicas: 1, maxReplicas: 2, region: 'eu', owners: ['me@example.com'] }))).toContain('created'),
    );
    expect(await refused(['apply', '-f', '-'], pool('b', { minReplicas: 3, maxReplicas: 2 }))).toBe(
      'The Pool "b" is invalid: spec: Invalid value: "object": minReplicas must not exceed maxReplicas',
    );
    expect(await refused(['apply', '-f', '-'], pool('c', { minReplicas: 1, maxReplicas: 2, tier: 'Gold' }))).toBe(
      'The Pool "c" is invalid: spec: Invalid value: "object": gold needs 3 replicas, not 2',
    );
    expect(await refused(['apply', '-f', '-'], pool('d', { minReplicas: 1, maxReplicas: 2, owners: ['x@elsewhere.org'] }))).toBe(
      'The Pool "d" is invalid: spec.owners: Forbidden: owners must be at example.com',
    );
    expect(await refused(['patch', 'pool', 'a', '--type=merge', '-p', '{"spec":{"region":"us"}}'])).toContain(
      'The Pool "a" is invalid: spec.region: Invalid value: "string": Value is immutable',
    );
    await ok(['patch', 'pool', 'a', '--type=merge', '-p', '{"spec":{"maxReplicas":5}}']);
    await ok(['delete', 'crd', 'pools.example.com']);
  });

  it('a namespace’s deletion and an owner’s take custom resources with them', async () => {
    await ok(['create', 'namespace', 'cron-team']);
    await ok(['apply', '-n', 'cron-team', '-f', '-'], cronTab('owned', { cronSpec: '* * * * *' }).replace('"namespace":"default"', '"namespace":"cron-team"'));
    const uid = await ok(['get', 'ct', 'owned', '-n', 'cron-team', '-o', 'jsonpath={.metadata.uid}']);
    await ok(
      ['apply', '-f', '-'],
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: {
          name: 'owned-config',
          namespace: 'cron-team',
          ownerReferences: [{ apiVersion: 'stable.example.com/v1', kind: 'CronTab', name: 'owned', uid }],
        },
      }),
    );
    await ok(['delete', 'ct', 'owned', '-n', 'cron-team']);
    await eventually(async () => expect(await ok(['get', 'configmaps', '-n', 'cron-team', '-o', 'name'])).not.toContain('owned-config'));
    await ok(['apply', '-f', '-'], cronTab('doomed', { cronSpec: '* * * * *' }).replace('"namespace":"default"', '"namespace":"cron-team"'));
    await ok(['delete', 'namespace', 'cron-team', within(20)]);
    expect(await ok(['get', 'ct', '-A', '-o', 'name'])).not.toContain('doomed');
  });

  it('deleting the CRD deletes its objects and stops serving the kind', async () => {
    expect((await ok(['get', 'ct', '-o', 'name'])).split('\n').length).toBeGreaterThan(1);
    await ok(['delete', 'crd', 'crontabs.stable.example.com', within(20)]);
    await eventually(async () =>
      expect(await refused(['get', 'crontabs'])).toMatch(/the server doesn't have a resource type "crontabs"|could not find the requested resource/),
    );
    const left = await cluster.store.list('crontabs.stable.example.com');
    expect(left.items).toEqual([]);
  });

  it('the README’s example applies: the CRD, then (once Established) its CronTab; a CRD held Terminating serves reads, not creates', async () => {
    await cluster.kubectl(['apply', '-f', 'examples/crontab.yaml']);
    await ok(['wait', '--for=condition=Established', 'crd/crontabs.stable.example.com', within(10)]);
    await eventually(async () => expect(await ok(['apply', '-f', 'examples/crontab.yaml'])).toContain('crontab.stable.example.com/nightly'));
    expect(await ok(['get', 'crontabs'])).toMatch(/^nightly\s+0 3 \* \* \*\s+1\s+\d+s$/m);
    expect(await refused(['patch', 'ct', 'nightly', '--type=merge', '-p', '{"spec":{"image":""}}'])).toContain(
      'spec: Invalid value: "object": image may not be empty',
    );
    // A CronTab held by a finalizer holds its CRD Terminating: the kind is still read and deleted, not created.
    await ok(['patch', 'ct', 'nightly', '--type=merge', '-p', '{"metadata":{"finalizers":["example.com/hold"]}}']);
    await ok(['delete', 'crd', 'crontabs.stable.example.com', '--wait=false']);
    await eventually(async () => expect(await ok(['get', 'ct', 'nightly', '-o', 'jsonpath={.metadata.deletionTimestamp}'])).not.toBe(''));
    const late = JSON.stringify({
      apiVersion: 'stable.example.com/v1',
      kind: 'CronTab',
      metadata: { name: 'late', namespace: 'default' },
      spec: { cronSpec: '* * * * *' },
    });
    expect(await refused(['create', '-f', '-'], late)).toContain('create not allowed while custom resource definition is terminating');
    await ok(['patch', 'ct', 'nightly', '--type=merge', '-p', '{"metadata":{"finalizers":null}}']);
    await eventually(async () => expect(await ok(['get', 'crd', '-o', 'name'])).not.toContain('crontabs'));
  });
});
