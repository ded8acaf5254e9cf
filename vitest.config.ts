import { defineConfig } from 'vitest/config';

/**
 * The suites that run once per shape, unchanged (test/support/shape.ts): the kubectl e2e suite,
 * the client-node suite and the controller convergence suite, against the embedded control plane
 * and against the AWS shape on this machine (the functions behind the emulators).
 */
const BOTH_SHAPES = [
  'test/e2e/kubectl-workflow.test.ts',
  'test/e2e/kubectl-lifecycle.test.ts',
  'test/e2e/kubectl-rollout.test.ts',
  'test/e2e/kubectl-every-resource.test.ts',
  'test/e2e/kubectl-explain.test.ts',
  'test/e2e/kubectl-priorityclass.test.ts',
  'test/e2e/kubectl-drain.test.ts',
  'test/e2e/kubectl-services.test.ts',
  'test/e2e/kubectl-crd.test.ts',
  'test/e2e/kubectl-hpa.test.ts',
  'test/e2e/client-node.test.ts',
  'test/e2e/oidc.test.ts',
  'test/e2e/dashboard-oidc.test.ts',
  'test/controllers/convergence.test.ts',
];

/**
 * The files that run whole clusters of their own with a private Docker engine, several kubelets
 * and the AWS emulators (or measure a pod's CPU): each runs alone, after the parallel files. Two
 * of them side by side on a 2-core machine starved each other past any timeout (a 130 s file took
 * more than 780 s), and a CPU figure measured beside them means nothing.
 */
const CLUSTERS = [
  'test/e2e/aws-local.test.ts',
  'test/e2e/aws-local-ecs.test.ts',
  'test/e2e/aws-local-ec2.test.ts',
  'test/e2e/aws-local-provision.test.ts',
  'test/e2e/local-workers.test.ts',
  'test/e2e/migration.test.ts',
];

export default defineConfig({
  test: {
    // Fails the run when a test leaves a process behind (see the file).
    globalSetup: ['test/support/leftovers.ts'],
    // Suites start real engines (SQLite files, DynamoDB Local, kubectl subprocesses);
    // give them room on a noisy 2-core machine, and run files in separate processes.
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    projects: [
      { extends: true, test: { name: 'embedded', include: ['test/**/*.test.ts'], exclude: CLUSTERS } },
      // maxWorkers 1 puts a project's files in vitest's sequential group: one file at a time, once
      // the parallel group is done.
      { extends: true, test: { name: 'clusters', include: CLUSTERS, maxWorkers: 1 } },
      // Each aws-local file runs a whole cluster of processes (DynamoDB Local, the functions'
      // execution environments): one such file at a time (the sequential group too), and longer
      // timeouts.
      {
        extends: true,
        test: { name: 'aws-local', include: BOTH_SHAPES, env: { SKIFF_TEST_SHAPE: 'aws-local' }, maxWorkers: 1, testTimeout: 120_000, hookTimeout: 240_000 },
      },
    ],
  },
});
