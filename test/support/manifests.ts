/** Small objects the API tests create and break in their own ways. */

/** A one-replica Deployment of `name`, selecting `app=<name>`. */
export function deployment(name: string) {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'c', image: 'nginx' }] } },
    },
  };
}

/**
 * A Deployment of Node.js HTTP servers (`node -e server`) on the process runtime, each listening
 * on port 8080 of its pod's address and knowing its pod's name (POD_NAME, POD_IP), for the
 * traffic tests and the network benchmark.
 */
export function nodeServers(name: string, server: string, spec: { replicas: number; readinessProbe: object; strategy?: object; grace?: number }) {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name },
    spec: {
      replicas: spec.replicas,
      selector: { matchLabels: { app: name } },
      ...(spec.strategy ? { strategy: spec.strategy } : {}),
      template: {
        metadata: { labels: { app: name } },
        spec: {
          terminationGracePeriodSeconds: spec.grace ?? 5,
          containers: [
            {
              name,
              image: 'node',
              command: ['node', '-e', server],
              env: [
                { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
                { name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
              ],
              ports: [{ name: 'http', containerPort: 8080 }],
              readinessProbe: spec.readinessProbe,
            },
          ],
        },
      },
    },
  };
}
