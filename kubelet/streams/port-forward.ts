/**
 * `pods/portforward` at the kubelet, in the two ways clients ask for it:
 *
 * - SPDY streams (kubectl 1.32, tunnelled in WebSocket messages): for each connection the client
 *   opens an `error` stream and a `data` stream with the same `requestid` and the `port`; the data
 *   stream carries the bytes both ways, the error stream one message if the port cannot be reached,
 *   and ends when the connection is done (the client waits for that end).
 * - WebSocket channels (`v4.channel.k8s.io`, @kubernetes/client-node): one connection per port,
 *   the `ports` of the request in order; channel 2i carries the data of port i and 2i+1 its
 *   errors, each channel's first message the port number (two bytes, little-endian).
 *
 * The address is the pod's: a port the pod does not listen on is an error message, not a hang.
 */
import { connect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';
import { SpdySession, type SpdyStream } from './spdy.js';

export interface PortForwardTarget {
  /** Where the pod's ports are reached (its IP on this machine). */
  address: string;
  /** For messages: namespace/name and uid. */
  pod: string;
  uid: string;
  log?: (line: string) => void;
}

const failure = (t: PortForwardTarget, port: number, err: Error) =>
  `error forwarding port ${port} to pod ${t.pod}, uid ${t.uid}: failed to connect to ${t.address}:${port}: ${err.message}`;

/** Serves port-forward over a SPDY session on `transport`; resolves when the session ends. */
export function servePortForwardSpdy(transport: Duplex, target: PortForwardTarget): Promise<void> {
  const session = new SpdySession(transport);
  const pairs = new Map<string, { data?: SpdyStream; error?: SpdyStream }>();
  session.on('error', (err) => target.log?.(`port-forward to ${target.pod}: ${err.message}`));
  session.on('stream', (stream) => {
    const id = stream.header('requestid') ?? String(stream.id);
    const pair = pairs.get(id) ?? {};
    const type = stream.header('streamtype');
    if (type !== 'data' && type !== 'error') {
      stream.destroy();
      return;
    }
    pair[type] = stream;
    // The client closes its side of the error stream at once: nothing is read from it.
    if (type === 'error') stream.resume();
    if (!pair.data || !pair.error) {
      pairs.set(id, pair);
      return;
    }
    pairs.delete(id);
    forward(pair.data, pair.error, Number(stream.header('port')), target);
  });
  return new Promise((resolve) => session.once('close', resolve));
}

function forward(data: SpdyStream, error: SpdyStream, port: number, target: PortForwardTarget): void {
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    error.end(`invalid port ${data.header('port')}`);
    data.end();
    return;
  }
  const socket = connect({ host: target.address, port });
  let connected = false;
  socket.once('connect', () => {
    connected = true;
    data.pipe(socket);
    socket.pipe(data);
  });
  socket.once('error', (err) => {
    if (!connected) error.write(failure(target, port, err));
    data.end();
  });
  socket.once('close', () => {
    if (!data.writableEnded) data.end();
    error.end();
  });
  data.once('error', () => socket.destroy());
  data.once('close', () => socket.destroy());
}

/** The WebSocket channel form: each of `ports` forwarded over channels 2i and 2i+1 of `ws`. */
export function servePortForwardChannels(ws: WebSocket, ports: number[], target: PortForwardTarget): void {
  const sockets: Socket[] = [];
  const send = (channel: number, data: Buffer) => {
    if (ws.readyState === ws.OPEN) ws.send(Buffer.concat([Buffer.from([channel]), data]));
  };
  ports.forEach((port, i) => {
    const portBytes = Buffer.alloc(2);
    portBytes.writeUInt16LE(port, 0);
    send(2 * i, portBytes);
    send(2 * i + 1, portBytes);
    const socket = connect({ host: target.address, port });
    sockets.push(socket);
    socket.on('data', (chunk: Buffer) => send(2 * i, chunk));
    socket.once('error', (err) => send(2 * i + 1, Buffer.from(failure(target, port, err))));
    // The connection is the socket's: when the pod closes it, the WebSocket closes too.
    socket.once('close', () => ws.close(1000));
  });
  ws.on('message', (message: Buffer) => {
    const channel = message[0];
    const socket = channel % 2 === 0 ? sockets[channel / 2] : undefined;
    if (socket && message.length > 1) socket.write(message.subarray(1));
  });
  ws.once('close', () => {
    for (const socket of sockets) socket.destroy();
  });
}
