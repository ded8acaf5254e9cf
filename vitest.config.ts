import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

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

/**
 * Vitest's order, but for the aws-local files: it runs one project's files after another's, so
 * both workers would take aws-local files and one would wait for the machine's aws-local slot
 * (test/support/aws-local-cluster.ts) through each. Spread among the embedded files instead,
 * one worker runs an aws-local cluster while the other goes through embedded files.
 */
class AwsLocalSpread extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const awsLocal = sorted.filter((f) => f.project.name === 'aws-local');
    const embedded = sorted.filter((f) => f.project.name === 'embedded');
    const others = sorted.filter((f) => f.project.name !== 'aws-local' && f.project.name !== 'embedded');
    if (awsLocal.length === 0 || embedded.length === 0) return sorted;
    const every = Math.max(1, Math.floor(embedded.length / awsLocal.length));
    const spread: TestSpecification[] = [];
    let next = 0;
    embedded.forEach((file, i) => {
      if (i % every === 0 && next < awsLocal.length) spread.push(awsLocal[next++]);
      spread.push(file);
    });
    return [...spread, ...awsLocal.slice(next), ...others];
  }
}

export default defineConfig({
  test: {
    // Fails the run when a test leaves a process behind (see the file).
    globalSetup: ['test/support/leftovers.ts'],
    sequence: { sequencer: AwsLocalSpread },
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
      // execution environments): with the embedded files, but one such cluster at a time on the
      // machine (test/support/aws-local-cluster.ts waits for its slot), and longer timeouts.
      // Before, these files ran in the sequential group, one by one after the rest: 11 minutes
      // with a core mostly idle.
      {
        extends: true,
        test: { name: 'aws-local', include: BOTH_SHAPES, env: { SKIFF_TEST_SHAPE: 'aws-local' }, testTimeout: 120_000, hookTimeout: 360_000 },
      },
    ],
  },
});
