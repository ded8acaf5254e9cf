/**
 * The stream relay (relay.ts) as one file, as its Fargate task runs it: `node skiff-relay.mjs`.
 * The deploy (sst.config.ts) builds it with esbuild and puts it in the relay's bucket; the task
 * copies it from there and runs it on the stock Node.js image, so no image is built or
 * published (as the kubelet, which workers fetch from the API).
 */
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export async function buildRelayBundle(outfile: string): Promise<string> {
  mkdirSync(dirname(outfile), { recursive: true });
  await build({
    entryPoints: [join(ROOT, 'functions', 'api', 'relay.ts')],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    minify: true,
    outfile,
    logLevel: 'error',
    banner: { js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);" },
  });
  return outfile;
}
