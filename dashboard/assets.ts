/**
 * The dashboard's build as the API serves it (`AppOptions.dashboard`): a path below
 * `/dashboard/` to its asset. Kept apart from the build (build.ts, which needs esbuild), so the
 * API function, which carries a build written at deploy time, reads it without esbuild.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { extname, join } from 'node:path';

export interface Asset {
  body: Uint8Array;
  type: string;
  /** Named by its content's hash: cached for good. */
  immutable: boolean;
}

/** What the API serves under `/dashboard/`: a path below it (`index.html`, `assets/app-<hash>.js`) to its asset. */
export interface DashboardAssets {
  get(path: string): Promise<Asset | undefined>;
}

export const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.html': 'text/html; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/** A build written by `writeDashboard` (build.ts), read at the first request that finds it; none there yet: every path is missing. */
export function dashboardFromDir(dir: string): DashboardAssets {
  let files: Map<string, Asset> | undefined;
  const read = () => {
    const found = new Map<string, Asset>();
    const walk = (rel: string) => {
      for (const entry of readdirSync(join(dir, rel), { withFileTypes: true })) {
        const path = rel ? `${rel}/${entry.name}` : entry.name;
        if (entry.isDirectory()) walk(path);
        else
          found.set(path, { body: readFileSync(join(dir, path)), type: TYPES[extname(path)] ?? 'application/octet-stream', immutable: path !== 'index.html' });
      }
    };
    try {
      walk('');
    } catch {
      // No build here.
    }
    return found;
  };
  return {
    get: async (path) => {
      // Read again until the page is there (writeDashboard writes it last).
      if (!files?.has('index.html')) files = read();
      return files.get(path);
    },
  };
}
