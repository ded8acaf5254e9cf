/**
 * The shape the suites run against: `embedded` (the API server and controllers in this process,
 * over SQLite) or `aws-local` (the four functions in the Lambda runner behind the emulators,
 * over DynamoDB Local). vitest.config.ts runs the shape-neutral suites once per shape.
 */
export type TestShape = 'embedded' | 'aws-local';

export const TEST_SHAPE: TestShape = process.env.SKIFF_TEST_SHAPE === 'aws-local' ? 'aws-local' : 'embedded';
