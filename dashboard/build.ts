/**
 * The dashboard's build: `dashboard/src` (Preact, TypeScript) bundled by esbuild into one script
 * and one stylesheet whose names carry a hash of their content (and the modules a view loads when
 * it is first used, named so too), and the page that loads them.
 * The API serves them at `/dashboard/` (`AppOptions.dashboard`): the assets for a year
 * (`immutable`: a new build has new names), the page never from a cache. No CDN, nothing loaded
 * from elsewhere. `skiff up` builds in memory at the first request; the AWS shape's deploy writes
 * the build to a folder the API function carries (`writeDashboard`, read by assets.ts).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { type Asset, type DashboardAssets, TYPES } from './assets.js';
import { basename, dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * The page's icon, inline: without one a browser asks `/favicon.ico`, which the API answers 401
 * (it is no dashboard path), an error in the console of every page load. A hull under a sail.
 */
const ICON = `data:image/svg+xml,${encodeURIComponent(
  '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><path d="M8 1v9H3z" fill="#2f6fdb"/><path d="M1 11h14l-2 4H3z" fill="#1d3f7a"/></svg>',
)}`;

function page(script: string, style: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Skiff</title>
<link rel="icon" href="${ICON}">
<link rel="stylesheet" href="/dashboard/${style}">
<script type="module" src="/dashboard/${script}"></script>
</head>
<body>
<div id="app"></div>
</body>
</html>
`;
}

/** Builds the dashboard in memory: `index.html` and its hashed assets. */
export async function buildDashboard(): Promise<Map<string, Asset>> {
  const { build } = await import('esbuild');
  const out = await build({
    entryPoints: { app: join(ROOT, 'dashboard', 'src', 'main.tsx') },
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: process.env.SKIFF_DASHBOARD_MINIFY !== '0',
    write: false,
    outdir: join(ROOT, 'dashboard', 'out', 'assets'),
    // Every file named by a hash of its content (and of what it imports). What a view loads only
    // when it is used (the terminal) is a module of its own, loaded then.
    splitting: true,
    entryNames: '[name]-[hash]',
    chunkNames: 'chunk-[hash]',
    jsx: 'automatic',
    jsxImportSource: 'preact',
    logLevel: 'error',
    legalComments: 'none',
  });
  const assets = new Map<string, Asset>();
  const named: Record<string, string> = {};
  for (const file of out.outputFiles) {
    const name = `assets/${basename(file.path)}`;
    const ext = extname(file.path);
    if (name.startsWith('assets/app-')) named[ext] = name;
    assets.set(name, { body: file.contents, type: TYPES[ext] ?? 'application/octet-stream', immutable: true });
  }
  assets.set('index.html', { body: Buffer.from(page(named['.js'], named['.css'])), type: TYPES['.html'], immutable: false });
  return assets;
}

/** The build made at the first ask and kept (a failed build is tried again at the next). */
export function builtOnce(): DashboardAssets {
  let built: Promise<Map<string, Asset>> | undefined;
  return {
    async get(path) {
      built ??= buildDashboard();
      built.catch(() => {
        built = undefined;
      });
      return (await built).get(path);
    },
  };
}

/** Writes a build to `dir` (the deploy does, for the API function to carry): the page last, once its assets are there. */
export async function writeDashboard(dir: string): Promise<void> {
  const built = await buildDashboard();
  for (const [path, asset] of [...built].sort(([a], [b]) => Number(a === 'index.html') - Number(b === 'index.html'))) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), asset.body);
  }
}
