#!/usr/bin/env node
// Installs what `npm start` / `npm test` need on a fresh machine, and nothing when it is there.
// npm packages always; Debian packages when missing and when running as root: busybox for
// `npm start` (the examples' commands, run on the host by the process runtime), and for tests
// also Java (DynamoDB Local), docker.io (the docker runtime) and chromium (the dashboard's
// browser tests, driven by playwright-core: no browser is downloaded).
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
  console.log(
    '[ensure-deps] First run in this checkout: installing the npm packages Skiff needs. This compiles\n' +
      "[ensure-deps] better-sqlite3 (the embedded store's SQLite binding) from source and can take a few\n" +
      '[ensure-deps] minutes on a small machine; it happens once. Install scripts run only for the packages\n' +
      '[ensure-deps] approved in package.json (allowScripts): better-sqlite3, esbuild, protobufjs.',
  );
  run(existsSync(join(root, 'package-lock.json')) ? 'npm ci' : 'npm install');
}

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const has = (cmd) => {
  try {
    execSync(cmd, { stdio: 'ignore', shell: '/bin/sh' });
    return true;
  } catch {
    return false;
  }
};
// Debian packages driven for real: [package, is it there?].
const debs = [
  ['busybox-static', () => has("dpkg -s busybox-static 2>/dev/null | grep -q 'Status: install ok installed'") || (!forTests && has('command -v busybox'))],
  ...(forTests
    ? [
        ['openjdk-17-jre-headless', () => has('command -v java')],
        ['docker.io', () => has('command -v dockerd') && has('command -v docker')],
        ['chromium', () => has('test -x /usr/bin/chromium')],
      ]
    : []),
];
const missing = debs.filter(([, present]) => !present()).map(([pkg]) => pkg);
if (missing.length > 0) {
  if (!isRoot || !has('command -v apt-get')) {
    console.warn(`[ensure-deps] missing Debian packages ${missing.join(' ')}; not root (or no apt), so not installing`);
  } else {
    const why = {
      'busybox-static': 'the commands the examples run',
      'openjdk-17-jre-headless': 'DynamoDB Local, for the store tests',
      'docker.io': 'the docker runtime tests',
      chromium: "the dashboard's browser tests",
    };
    console.log(`[ensure-deps] installing Debian packages: ${missing.map((p) => `${p} (${why[p] ?? 'needed'})`).join(', ')}`);
    run('apt-get update -qq');
    run(`DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ${missing.join(' ')}`);
  }
}

// The SST platform (its components, @pulumi/aws and their types) for the infrastructure's
// typecheck and component tests: `sst install` fetches it from npm into .sst/platform, once.
// Nothing is deployed and no AWS account is asked; the stage name only satisfies the CLI.
if (forTests && !existsSync(join(root, '.sst/platform/config.d.ts'))) {
  console.log('[ensure-deps] installing the SST platform into .sst/ (sst install, about half a minute)');
  execSync('npx sst install', {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, SST_STAGE: 'ci', SST_NO_BUN: '1', SST_SKIP_DEPENDENCY_CHECK: '1', SST_TELEMETRY_DISABLED: '1' },
  });
}
