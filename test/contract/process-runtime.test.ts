import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProcessRuntime } from '../../kubelet/runtime/process.js';
import { runtimeContract } from './runtime.contract.js';

runtimeContract('process', async () => {
  const root = mkdtempSync(join(tmpdir(), 'skiff-process-runtime-'));
  return {
    runtime: new ProcessRuntime(root),
    reopen: () => new ProcessRuntime(root),
    cleanup: async () => rmSync(root, { recursive: true, force: true }),
  };
});
