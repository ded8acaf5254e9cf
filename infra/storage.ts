/**
 * The state: one DynamoDB table (the store's items and its change log; the stream carries both
 * images of every write to the controllers; TTL removes expired log entries and leases), and a
 * KMS key that seals Secrets before they reach the table.
 */
export function storage() {
  const table = new sst.aws.Dynamo('Store', {
    fields: { pk: 'string', sk: 'string' },
    primaryIndex: { hashKey: 'pk', rangeKey: 'sk' },
    stream: 'new-and-old-images',
    ttl: 'ttl',
  });
  const secretsKey = new aws.kms.Key('SecretsKey', {
    description: 'Skiff: seals Secrets at rest in the store',
    enableKeyRotation: true,
    deletionWindowInDays: 30,
  });
  return { table, secretsKey };
}

export type Storage = ReturnType<typeof storage>;
