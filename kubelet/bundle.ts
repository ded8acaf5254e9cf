/**
 * The kubelet as one file, as a worker in the cloud runs it: `node skiff-kubelet.mjs ...`
 * (about 0.7 MB, no native module; the process runtime's shim is written beside it at start). The API serves it to the workers that join
 * (`KUBELET_BUNDLE_PATH`, to bootstrap tokens and nodes), so a worker runs the kubelet of the
 * control plane that admits it: no image or package is built or published, and the kubelet and
 * the API never differ in version. Built here with esbuild (a development dependency): by
 * `skiff up` and aws-local at start, and by the deploy for the API function (sst.config.ts).
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

export async function buildKubeletBundle(outfile: string): Promise<string> {
  mkdirSync(dirname(outfile), { recursive: true });
  await build({
    entryPoints: [join(ROOT, 'kubelet', 'main.ts')],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node18',
    minify: true,
    outfile,
    logLevel: 'error',
    // The process runtime's shim runs as a file of its own: the bundle carries its source.
    define: { SKIFF_PROCESS_SHIM_SOURCE: JSON.stringify(readFileSync(join(ROOT, 'kubelet', 'runtime', 'process-shim.mjs'), 'utf8')) },
    banner: { js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);" },
  });
  return outfile;
}

/** The build at `outfile`, made at the first call and read from then on (for `AppOptions.kubeletBundle`). */
export function onceBuilt(outfile: string): () => Promise<Uint8Array> {
  let built: Promise<Uint8Array> | undefined;
  return () => {
    built ??= buildKubeletBundle(outfile).then((file) => readFile(file));
    // A failed build is tried again at the next ask.
    built.catch(() => {
      built = undefined;
    });
    return built;
  };
}
