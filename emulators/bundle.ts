/**
 * A function bundled as it is deployed: one minified ESM file (esbuild, tree-shaken SDK), with
 * `require` for the CommonJS parts of the SDK. The bench measures it; the SST build emulator
 * (sst-rpc.ts) hands it to SST's Function component.
 */
import { stat } from 'node:fs/promises';
import { build } from 'esbuild';

export async function bundleFunction(entry: string, outfile: string): Promise<{ path: string; bytes: number }> {
  await build({
    entryPoints: [entry],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node22',
    minify: true,
    outfile,
    external: ['better-sqlite3'],
    logLevel: 'error',
    banner: { js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);" },
  });
  return { path: outfile, bytes: (await stat(outfile)).size };
}
