/**
 * `hostPort`: a container port reachable on the node's address, as the kubelet's CNI portmap
 * gives it. Pods listen on their own address (host network, one loopback address each), so the
 * kubelet forwards each TCP connection on nodeIP:hostPort to podIP:containerPort. UDP host ports
 * are not forwarded.
 */
import { createServer, connect, type Server } from 'node:net';

export interface HostPortMapping {
  hostIP: string;
  hostPort: number;
  podIP: string;
  containerPort: number;
}

const keyOf = (m: HostPortMapping) => `${m.hostIP}:${m.hostPort}->${m.podIP}:${m.containerPort}`;

export class HostPorts {
  /** Pod uid -> its forwarders by mapping. */
  private readonly byPod = new Map<string, Map<string, Server>>();

  constructor(private readonly log: (line: string) => void = () => undefined) {}

  /** Makes the pod's forwarders exactly these (opening new ones, closing the rest). */
  update(uid: string, mappings: HostPortMapping[]): void {
    const current = this.byPod.get(uid) ?? new Map<string, Server>();
    const wanted = new Map(mappings.map((m) => [keyOf(m), m]));
    for (const [key, server] of current) {
      if (!wanted.has(key)) {
        server.close();
        current.delete(key);
      }
    }
    for (const [key, m] of wanted) {
      if (current.has(key)) continue;
      const server = createServer((client) => {
        const upstream = connect({ host: m.podIP, port: m.containerPort });
        client.pipe(upstream).pipe(client);
        const end = () => {
          client.destroy();
          upstream.destroy();
        };
        client.on('error', end);
        upstream.on('error', end);
      });
      server.on('error', (err) => this.log(`hostPort ${key}: ${err.message}`));
      server.listen(m.hostPort, m.hostIP);
      current.set(key, server);
    }
    if (current.size) this.byPod.set(uid, current);
    else this.byPod.delete(uid);
  }

  close(uid: string): void {
    this.update(uid, []);
  }

  closeAll(): void {
    for (const uid of [...this.byPod.keys()]) this.close(uid);
  }
}
