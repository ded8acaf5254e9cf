/**
 * A pod spec's volumes and its containers' volume mounts: Kubernetes' defaults (modes 0644,
 * hostPath type "") and its checks, worded as kube-apiserver words them: one source per volume,
 * unique DNS-label names, relative item paths without `..`, modes within 0777, mounts of
 * declared volumes at unique paths.
 */
import type { StatusCause } from './status.js';
import { asArray, asObj, checkUniqueLabel, forbiddenField, invalidValue, isObj, notSupported, required, type Obj } from './validation.js';

const DEFAULT_MODE = 0o644;
const HOST_PATH_TYPES = ['', 'DirectoryOrCreate', 'Directory', 'FileOrCreate', 'File', 'Socket', 'CharDevice', 'BlockDevice'];
const MEDIA = ['', 'Memory', 'HugePages'];

/** Kubernetes' volume defaults, in place. */
export function defaultVolumes(spec: Obj): void {
  for (const raw of asArray(spec.volumes)) {
    const v = asObj(raw);
    for (const kind of ['configMap', 'secret', 'downwardAPI', 'projected']) if (isObj(v[kind])) (v[kind] as Obj).defaultMode ??= DEFAULT_MODE;
    if (isObj(v.hostPath)) (v.hostPath as Obj).type ??= '';
  }
}

/** A path inside a volume: relative, without `..`. */
function checkRelative(path: unknown, field: string, causes: StatusCause[]): void {
  if (typeof path !== 'string' || !path) {
    causes.push(required(field));
    return;
  }
  if (path.startsWith('/')) causes.push(invalidValue(field, path, 'must be a relative path'));
  if (path.split('/').includes('..')) causes.push(invalidValue(field, path, "must not contain '..'"));
  else if (path.startsWith('..')) causes.push(invalidValue(field, path, "must not start with '..'"));
}

function checkMode(mode: unknown, field: string, causes: StatusCause[]): void {
  if (mode === undefined) return;
  if (typeof mode !== 'number' || !Number.isInteger(mode) || mode < 0 || mode > 0o777)
    causes.push(invalidValue(field, mode, 'must be a number between 0 and 0777 (octal), both inclusive'));
}

function checkItems(items: unknown, field: string, causes: StatusCause[], keyed: boolean): void {
  const paths = new Set<string>();
  asArray(items).forEach((raw, i) => {
    const item = asObj(raw);
    if (keyed && (typeof item.key !== 'string' || !item.key)) causes.push(required(`${field}[${i}].key`));
    checkRelative(item.path, `${field}[${i}].path`, causes);
    if (typeof item.path === 'string' && paths.has(item.path)) causes.push(invalidValue(`${field}[${i}].path`, item.path, 'must be unique'));
    paths.add(String(item.path));
    checkMode(item.mode, `${field}[${i}].mode`, causes);
    if (!keyed && !item.fieldRef && !item.resourceFieldRef)
      causes.push(required(`${field}[${i}]`, 'Required value: must specify one of fieldRef or resourceFieldRef'));
  });
}

/** The checks of one volume's source. */
function checkSource(kind: string, source: Obj, field: string, causes: StatusCause[]): void {
  if (kind === 'hostPath') {
    if (typeof source.path !== 'string' || !source.path) causes.push(required(`${field}.path`));
    if (source.type !== undefined && !HOST_PATH_TYPES.includes(String(source.type))) causes.push(notSupported(`${field}.type`, source.type, HOST_PATH_TYPES));
  } else if (kind === 'emptyDir') {
    if (source.medium !== undefined && !MEDIA.includes(String(source.medium))) causes.push(notSupported(`${field}.medium`, source.medium, MEDIA));
  } else if (kind === 'configMap' || kind === 'secret') {
    const name = kind === 'secret' ? source.secretName : source.name;
    if (kind === 'secret' && (typeof name !== 'string' || !name)) causes.push(required(`${field}.secretName`));
    checkMode(source.defaultMode, `${field}.defaultMode`, causes);
    checkItems(source.items, `${field}.items`, causes, true);
  } else if (kind === 'downwardAPI') {
    checkMode(source.defaultMode, `${field}.defaultMode`, causes);
    checkItems(source.items, `${field}.items`, causes, false);
  } else if (kind === 'projected') {
    checkMode(source.defaultMode, `${field}.defaultMode`, causes);
    asArray(source.sources).forEach((raw, i) => {
      const p = asObj(raw);
      const at = `${field}.sources[${i}]`;
      if (isObj(p.configMap)) checkItems(p.configMap.items, `${at}.configMap.items`, causes, true);
      if (isObj(p.secret)) checkItems(p.secret.items, `${at}.secret.items`, causes, true);
      if (isObj(p.downwardAPI)) checkItems(p.downwardAPI.items, `${at}.downwardAPI.items`, causes, false);
      if (isObj(p.serviceAccountToken)) {
        checkRelative(p.serviceAccountToken.path, `${at}.serviceAccountToken.path`, causes);
        const seconds = p.serviceAccountToken.expirationSeconds;
        if (seconds !== undefined && (typeof seconds !== 'number' || seconds < 600))
          causes.push(invalidValue(`${at}.serviceAccountToken.expirationSeconds`, seconds, 'may not specify a duration less than 10 minutes'));
      }
    });
  } else if (kind === 'persistentVolumeClaim') {
    if (typeof source.claimName !== 'string' || !source.claimName) causes.push(required(`${field}.claimName`));
  }
}

/** The one volume source of those set (`kinds`), with Kubernetes' refusal of none or of several (a pod's volume, a PersistentVolume). */
export function oneSource(kinds: string[], field: string, causes: StatusCause[]): string | undefined {
  if (kinds.length === 0) causes.push(required(field, 'Required value: must specify a volume type'));
  for (const extra of kinds.slice(1)) causes.push(forbiddenField(`${field}.${extra}`, 'may not specify more than 1 volume type'));
  return kinds[0];
}

/** The pod spec's volumes; returns their names, for the mounts' checks. */
function checkVolumes(spec: Obj, path: string, causes: StatusCause[]): Set<string> {
  const names = new Set<string>();
  asArray(spec.volumes).forEach((raw, i) => {
    const v = asObj(raw);
    const field = `${path}.volumes[${i}]`;
    checkUniqueLabel(v.name, `${field}.name`, names, causes);
    const kind = oneSource(
      Object.keys(v).filter((k) => k !== 'name' && v[k] !== undefined && v[k] !== null),
      field,
      causes,
    );
    if (kind) checkSource(kind, asObj(v[kind]), `${field}.${kind}`, causes);
  });
  return names;
}

/** The volumes of a pod spec and the mounts of its containers (`containers` are [field, container] pairs). */
export function validateVolumes(spec: Obj, path: string, containers: (readonly [string, unknown])[], causes: StatusCause[]): void {
  const names = checkVolumes(spec, path, causes);
  for (const [p, raw] of containers) {
    const paths = new Set<string>();
    asArray(asObj(raw).volumeMounts).forEach((m, j) => {
      const mount = asObj(m);
      const field = `${p}.volumeMounts[${j}]`;
      if (typeof mount.name !== 'string' || !mount.name) causes.push(required(`${field}.name`));
      else if (!names.has(mount.name)) causes.push({ type: 'FieldValueNotFound', field: `${field}.name`, message: `Not found: ${JSON.stringify(mount.name)}` });
      if (typeof mount.mountPath !== 'string' || !mount.mountPath) causes.push(required(`${field}.mountPath`));
      else if (paths.has(mount.mountPath)) causes.push(invalidValue(`${field}.mountPath`, mount.mountPath, 'must be unique'));
      else paths.add(mount.mountPath);
      if (mount.subPath !== undefined && mount.subPath !== '') checkRelative(mount.subPath, `${field}.subPath`, causes);
      if (mount.subPath && mount.subPathExpr)
        causes.push(invalidValue(`${field}.subPathExpr`, mount.subPathExpr, 'subPathExpr and subPath are mutually exclusive'));
    });
  }
}
