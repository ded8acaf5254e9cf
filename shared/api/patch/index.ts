/** The patch formats the API accepts, as pure functions. */
export { mergePatch } from './merge.js';
export { jsonPatch } from './json-patch.js';
export { strategicMergePatch } from './strategic.js';
export { serverSideApply, recordUpdate, type Gvk } from './apply.js';
export { PatchError, ApplyConflictError } from './errors.js';
