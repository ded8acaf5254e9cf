/**
 * apps/v1 StatefulSet: Kubernetes' defaults (one replica, OrderedReady, RollingUpdate from
 * partition 0, claims retained), a workload's checks and the StatefulSet's own (claim templates
 * named and sized, ordinals from 0 up, what may change after create), its columns and its scale.
 */
import type { KubeObject } from '../../store/object.js';
import { ageColumn, nameColumn } from '../columns.js';
import { StatefulSet } from '../schemas/index.js';
import type { StatusCause } from '../status.js';
import { asArray, asObj, forbiddenField, invalidValue, isObj, notSupported, required, sameJson } from '../validation.js';
import { resource, type Kind } from './kind.js';
import { defaultPodSpec, podTemplateSecurity, selectorImmutable, validateWorkloadSpec, workloadWideColumns } from './pod-spec.js';

const POLICIES = ['OrderedReady', 'Parallel'];
const STRATEGIES = ['RollingUpdate', 'OnDelete'];
const RETENTION = ['Retain', 'Delete'];
/** What a StatefulSet's spec may change after create (kube-apiserver's list, in its words below). */
const MUTABLE = ['replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy', 'minReadySeconds', 'revisionHistoryLimit'];

function validateClaims(spec: Record<string, unknown>, causes: StatusCause[]): void {
  asArray(spec.volumeClaimTemplates).forEach((raw, i) => {
    const claim = asObj(raw);
    const field = `spec.volumeClaimTemplates[${i}]`;
    if (!asObj(claim.metadata).name) causes.push(required(`${field}.metadata.name`));
    const claimSpec = asObj(claim.spec);
    if (asArray(claimSpec.accessModes).length === 0) causes.push(required(`${field}.spec.accessModes`));
    if (asObj(asObj(claimSpec.resources).requests).storage === undefined) causes.push(required(`${field}.spec.resources[storage]`));
  });
}

/** The object as its pods will be: each claim template a volume, so mounts of them check out. */
function withClaimVolumes(object: KubeObject): KubeObject {
  const claims = asArray(asObj(object.spec).volumeClaimTemplates).map((c) => String(asObj(asObj(c).metadata).name ?? ''));
  if (claims.length === 0) return object;
  const copy = structuredClone(object);
  const podSpec = asObj(asObj(asObj(copy.spec).template).spec);
  const volumes = asArray(podSpec.volumes).filter((v) => !claims.includes(String(asObj(v).name)));
  podSpec.volumes = [...volumes, ...claims.map((name) => ({ name, persistentVolumeClaim: { claimName: name } }))];
  return copy;
}

export const statefulSet: Kind = {
  info: resource('apps', 'v1', 'statefulsets', 'StatefulSet', { shortNames: ['sts'], categories: ['all'], subresources: ['status', 'scale'] }),
  schema: StatefulSet,
  admit: podTemplateSecurity,
  columns: [
    nameColumn,
    { name: 'Ready', type: 'string', cell: (o: KubeObject) => `${asObj(o.status).readyReplicas ?? 0}/${asObj(o.spec).replicas ?? 1}` },
    ageColumn,
    ...workloadWideColumns,
  ],
  initialStatus: () => ({ replicas: 0, availableReplicas: 0 }),
  defaults(object) {
    if (!isObj(object.spec)) return;
    const spec = object.spec;
    spec.replicas ??= 1;
    spec.podManagementPolicy ??= 'OrderedReady';
    spec.updateStrategy ??= { type: 'RollingUpdate' };
    const strategy = asObj(spec.updateStrategy);
    strategy.type ??= 'RollingUpdate';
    if (strategy.type === 'RollingUpdate') strategy.rollingUpdate = { partition: 0, ...asObj(strategy.rollingUpdate) };
    spec.revisionHistoryLimit ??= 10;
    spec.persistentVolumeClaimRetentionPolicy = { whenDeleted: 'Retain', whenScaled: 'Retain', ...asObj(spec.persistentVolumeClaimRetentionPolicy) };
    for (const claim of asArray(spec.volumeClaimTemplates)) {
      const c = asObj(asObj(claim).spec);
      c.volumeMode ??= 'Filesystem';
    }
    defaultPodSpec(asObj(spec.template).spec);
  },
  validate(object, causes) {
    const spec = validateWorkloadSpec(withClaimVolumes(object), causes);
    if (!spec) return;
    const restartPolicy = asObj(asObj(spec.template).spec).restartPolicy;
    if (restartPolicy !== 'Always') causes.push(notSupported('spec.template.spec.restartPolicy', restartPolicy, ['Always']));
    if (!POLICIES.includes(String(spec.podManagementPolicy))) causes.push(notSupported('spec.podManagementPolicy', spec.podManagementPolicy, POLICIES));
    const strategy = asObj(spec.updateStrategy);
    if (!STRATEGIES.includes(String(strategy.type))) causes.push(notSupported('spec.updateStrategy.type', strategy.type, STRATEGIES));
    const partition = asObj(strategy.rollingUpdate).partition;
    if (typeof partition === 'number' && partition < 0)
      causes.push(invalidValue('spec.updateStrategy.rollingUpdate.partition', partition, 'must be greater than or equal to 0'));
    const start = asObj(spec.ordinals).start;
    if (typeof start === 'number' && start < 0) causes.push(invalidValue('spec.ordinals.start', start, 'must be greater than or equal to 0'));
    const retention = asObj(spec.persistentVolumeClaimRetentionPolicy);
    for (const when of ['whenDeleted', 'whenScaled'])
      if (!RETENTION.includes(String(retention[when])))
        causes.push(notSupported(`spec.persistentVolumeClaimRetentionPolicy.${when}`, retention[when], RETENTION));
    validateClaims(spec, causes);
  },
  validateUpdate(object, old, causes) {
    selectorImmutable(object, old, causes);
    const strip = (s: unknown) => Object.fromEntries(Object.entries(asObj(s)).filter(([k]) => !MUTABLE.includes(k) && k !== 'selector'));
    if (!sameJson(strip(object.spec), strip(old.spec)))
      causes.push(
        forbiddenField(
          'spec',
          "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
        ),
      );
  },
};
