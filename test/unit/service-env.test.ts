/**
 * The service variables a container gets, as Kubernetes names them: per Service with a
 * ClusterIP, `<NAME>_SERVICE_HOST` and `_PORT` (and per named port), and the Docker-link ones;
 * none for a headless Service; `env` may refer to them and override them.
 */
import { describe, expect, it } from 'vitest';
import { serviceEnv } from '../../kubelet/env.js';

describe('service variables', () => {
  it('names each Service’s address and ports, upper-cased with _ for -', () => {
    const env = serviceEnv([
      {
        metadata: { name: 'web-front' },
        spec: {
          clusterIP: '127.96.1.2',
          ports: [
            { name: 'http', port: 80 },
            { name: 'dns-udp', port: 53, protocol: 'UDP' },
          ],
        },
      },
      { metadata: { name: 'headless' }, spec: { clusterIP: 'None', ports: [{ port: 80 }] } },
    ]);
    expect(env).toEqual({
      WEB_FRONT_SERVICE_HOST: '127.96.1.2',
      WEB_FRONT_SERVICE_PORT: '80',
      WEB_FRONT_SERVICE_PORT_HTTP: '80',
      WEB_FRONT_SERVICE_PORT_DNS_UDP: '53',
      WEB_FRONT_PORT: 'tcp://127.96.1.2:80',
      WEB_FRONT_PORT_80_TCP: 'tcp://127.96.1.2:80',
      WEB_FRONT_PORT_80_TCP_PROTO: 'tcp',
      WEB_FRONT_PORT_80_TCP_PORT: '80',
      WEB_FRONT_PORT_80_TCP_ADDR: '127.96.1.2',
      WEB_FRONT_PORT_53_UDP: 'udp://127.96.1.2:53',
      WEB_FRONT_PORT_53_UDP_PROTO: 'udp',
      WEB_FRONT_PORT_53_UDP_PORT: '53',
      WEB_FRONT_PORT_53_UDP_ADDR: '127.96.1.2',
    });
  });
});
