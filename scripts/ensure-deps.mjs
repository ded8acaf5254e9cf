#!/usr/bin/env node
// Installs what `npm start` / `npm test` need on a fresh machine, and nothing when it is there.
// npm packages always; Debian packages for tests only when missing and when running as root.
import { execSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const forTests = process.argv.includes('--test');

function run(cmd) {
  console.log(`[ensure-deps] ${cmd}`);
  execSync(cmd, { cwd: root, stdio: 'inherit' });
}

function npmPackagesPresent() {
  // The native SQLite binding is the piece most likely to be missing or stale.
  const probes = ['node_modules/.package-lock.json', 'node_modules/better-sqlite3/build/Release/better_sqlite3.node'];
  return probes.every((p) => existsSync(join(root, p)));
}

if (!npmPackagesPresent()) {
  run(existsSync(join(root, 'package-lock.json')) ? 'npm ci' : 'npm install');
}

if (forTests) {
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  // Debian packages the test suites drive for real: [package, is it there?].
  const has = (cmd) => {
    try { execSync(cmd, { stdio: 'ignore', shell: '/bin/sh' }); return true; } catch { return false; }
  };
  const debs = [
    ['openjdk-17-jre-headless', () => has('command -v java')],
    ['docker.io', () => has('command -v dockerd') && has('command -v docker')],
    ['busybox-static', () => has("dpkg -s busybox-static 2>/dev/null | grep -q 'Status: install ok installed'")],
  ];
  const missing = debs.filter(([, present]) => !present()).map(([pkg]) => pkg);
  if (missing.length > 0) {
    if (!isRoot) {
      console.warn(`[ensure-deps] missing Debian packages ${missing.join(' ')}; not root, so not installing`);
    } else {
      run('apt-get update -qq');
      run(`DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ${missing.join(' ')}`);
    }
  }
}
