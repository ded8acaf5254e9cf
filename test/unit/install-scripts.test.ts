/**
 * Every installed package that runs an install script is approved in package.json's
 * allowScripts, so `npm ci` on a fresh clone prints no install-scripts warning (and keeps
 * working once npm blocks unapproved scripts).
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = process.cwd();

function packageDirs(dir: string): string[] {
  const out: string[] = [];
  for (const entry of existsSync(dir) ? readdirSync(dir) : []) {
    if (entry.startsWith('.')) continue;
    const path = join(dir, entry);
    if (entry.startsWith('@')) out.push(...packageDirs(path));
    else if (existsSync(join(path, 'package.json'))) {
      out.push(path);
      out.push(...packageDirs(join(path, 'node_modules')));
    }
  }
  return out;
}

describe('install scripts', () => {
  it('each package with an install script is approved in allowScripts', () => {
    const allowed = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { allowScripts?: Record<string, boolean> }).allowScripts ?? {};
    const withScripts = new Set<string>();
    for (const dir of packageDirs(join(root, 'node_modules'))) {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name: string; scripts?: Record<string, string> };
      const scripts = pkg.scripts ?? {};
      // npm runs `node-gyp rebuild` for a package with a binding.gyp and no install script.
      if (scripts.preinstall || scripts.install || scripts.postinstall || existsSync(join(dir, 'binding.gyp'))) withScripts.add(pkg.name);
    }
    expect(withScripts.size).toBeGreaterThan(0);
    expect([...withScripts].filter((name) => allowed[name] !== true).sort()).toEqual([]);
  });
});
