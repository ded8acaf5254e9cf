/**
 * Probes as the kubelet runs them: `exec` in the container (exit 0 is success), `httpGet`
 * (a status from 200 to 399), `tcpSocket` (the connection opens), each within
 * `timeoutSeconds`. Containers share the node's network, so the probe's host is the pod IP.
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect } from 'node:net';
import type { Container, Probe } from '../shared/api/schemas/index.js';
import type { Runtime } from './runtime/types.js';

export interface ProbeResult {
  ok: boolean;
  /** Why it failed, in the kubelet's words (for the Unhealthy event). */
  message: string;
}

/** A named port (`http`) becomes the container's number for it. */
export function resolvePort(port: number | string, container: Container): number {
  if (typeof port === 'number') return port;
  if (/^\d+$/.test(port)) return Number(port);
  const found = container.ports?.find((p) => p.name === port);
  if (!found) throw new Error(`port "${port}" is not a named port of container ${container.name}`);
  return found.containerPort;
}

export async function runProbe(probe: Probe, container: Container, containerId: string, runtime: Runtime, podIP: string): Promise<ProbeResult> {
  const timeoutMs = (probe.timeoutSeconds ?? 1) * 1000;
  try {
    if (probe.exec) {
      const result = await runtime.exec(containerId, probe.exec.command ?? [], timeoutMs);
      if (result.timedOut) return { ok: false, message: `command timed out after ${timeoutMs / 1000}s` };
      return result.exitCode === 0
        ? { ok: true, message: '' }
        : { ok: false, message: `command failed with exit code ${result.exitCode}: ${result.output.trim()}`.trim() };
    }
    if (probe.httpGet) {
      const get = probe.httpGet;
      const port = resolvePort(get.port, container);
      const host = get.host || podIP;
      const scheme = get.scheme === 'HTTPS' ? 'https' : 'http';
      const path = get.path ?? '/';
      const status = await new Promise<number>((resolve, reject) => {
        const req = (scheme === 'https' ? httpsRequest : httpRequest)(
          {
            host,
            port,
            path,
            method: 'GET',
            timeout: timeoutMs,
            rejectUnauthorized: false,
            headers: Object.fromEntries((get.httpHeaders ?? []).map((h) => [h.name, h.value])),
          },
          (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          },
        );
        req.on('timeout', () => req.destroy(new Error(`context deadline exceeded (timeout ${timeoutMs / 1000}s)`)));
        req.on('error', reject);
        req.end();
      });
      return status >= 200 && status < 400 ? { ok: true, message: '' } : { ok: false, message: `HTTP probe failed with statuscode: ${status}` };
    }
    if (probe.tcpSocket) {
      const port = resolvePort(probe.tcpSocket.port, container);
      const host = probe.tcpSocket.host || podIP;
      await new Promise<void>((resolve, reject) => {
        const socket = connect({ host, port, timeout: timeoutMs });
        socket.on('connect', () => {
          socket.destroy();
          resolve();
        });
        socket.on('timeout', () => socket.destroy(new Error(`dial tcp ${host}:${port}: i/o timeout`)));
        socket.on('error', reject);
      });
      return { ok: true, message: '' };
    }
    return { ok: false, message: 'probe has no handler (exec, httpGet or tcpSocket)' };
  } catch (err) {
    return { ok: false, message: err instanceof Error ? err.message : String(err) };
  }
}
