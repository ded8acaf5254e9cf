/**
 * The kubelet's SPDY/3 session (port-forward's, as kubectl tunnels it) against frames written
 * here as spdystream writes them: streams opened with compressed headers and answered, data
 * both ways however the bytes are cut, PING echoed, FIN and RST honoured, and a peer that
 * speaks something else sent away with GOAWAY rather than left hanging.
 */
import { Duplex, PassThrough } from 'node:stream';
import { Deflate, Inflate, Z_SYNC_FLUSH } from 'pako';
import { describe, expect, it } from 'vitest';
import { DICTIONARY, SpdySession, type SpdyStream } from '../../kubelet/streams/spdy.js';

/** Both ends of a byte pipe: the session's side and the test's. */
function pair() {
  const toSession = new PassThrough();
  const fromSession = new PassThrough();
  const sessionSide = Duplex.from({ readable: toSession, writable: fromSession });
  return { sessionSide, send: (b: Buffer) => toSession.write(b), received: fromSession };
}

const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0, 0);
  return b;
};

function control(type: number, flags: number, body: Buffer, version = 3): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt16BE(0x8000 | version, 0);
  head.writeUInt16BE(type, 2);
  head.writeUInt32BE((flags << 24) | body.length, 4);
  return Buffer.concat([head, body]);
}

function data(id: number, payload: Buffer, fin = false): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(id, 0);
  head.writeUInt32BE(((fin ? 1 : 0) << 24) | payload.length, 4);
  return Buffer.concat([head, payload]);
}

/** The client's side: a header compressor and decompressor, each one stream for the session. */
function client() {
  const deflate = new Deflate({ dictionary: DICTIONARY });
  const inflate = new Inflate({ dictionary: DICTIONARY });
  let out: Uint8Array[] = [];
  deflate.onData = (c) => out.push(c);
  let got: Uint8Array[] = [];
  inflate.onData = (c) => got.push(c);
  return {
    synStream(id: number, headers: Record<string, string>): Buffer {
      const entries = Object.entries(headers);
      const block = Buffer.concat([u32(entries.length), ...entries.flatMap(([k, v]) => [u32(k.length), Buffer.from(k), u32(v.length), Buffer.from(v)])]);
      out = [];
      deflate.push(block, Z_SYNC_FLUSH);
      return control(1, 0, Buffer.concat([u32(id), u32(0), Buffer.from([0, 0]), Buffer.concat(out)]));
    },
    /** The number of headers in a reply's block. */
    replyHeaders(compressed: Buffer): number {
      got = [];
      inflate.push(compressed, Z_SYNC_FLUSH);
      return Buffer.concat(got).readUInt32BE(0);
    },
  };
}

/** Frames the session wrote, as they arrive. */
function frames(received: PassThrough) {
  let buffer = Buffer.alloc(0);
  const seen: Buffer[] = [];
  received.on('data', (c: Buffer) => {
    buffer = Buffer.concat([buffer, c]);
    while (buffer.length >= 8 && buffer.length >= 8 + (buffer.readUInt32BE(4) & 0xffffff)) {
      const n = 8 + (buffer.readUInt32BE(4) & 0xffffff);
      seen.push(buffer.subarray(0, n));
      buffer = buffer.subarray(n);
    }
  });
  return seen;
}

const tick = () => new Promise((r) => setImmediate(r));

describe('SPDY/3 session', () => {
  it('answers a stream, carries its data both ways even cut into single bytes, and ends it with FIN', async () => {
    const { sessionSide, send, received } = pair();
    const seen = frames(received);
    const session = new SpdySession(sessionSide);
    const opened: SpdyStream[] = [];
    session.on('stream', (s) => opened.push(s));
    const c = client();
    for (const byte of c.synStream(1, { streamtype: 'data', port: '8080', requestid: '0' })) send(Buffer.from([byte]));
    await tick();
    expect(opened).toHaveLength(1);
    expect(opened[0].header('port')).toBe('8080');
    const reply = seen[0];
    expect(reply.readUInt16BE(2)).toBe(2);
    expect(reply.readUInt32BE(8)).toBe(1);
    expect(c.replyHeaders(reply.subarray(12))).toBe(0);
    // A second stream's headers decompress in the same context.
    send(c.synStream(3, { streamtype: 'error', port: '8080', requestid: '0' }));
    await tick();
    expect(opened[1].header('streamtype')).toBe('error');

    let read = '';
    opened[0].on('data', (d) => (read += String(d)));
    send(data(1, Buffer.from('hello ')));
    send(data(1, Buffer.from('there'), true));
    await tick();
    expect(read).toBe('hello there');
    opened[0].end('answer');
    await tick();
    const sent = seen.filter((f) => (f[0] & 0x80) === 0 && f.readUInt32BE(0) === 1);
    expect(Buffer.concat(sent.map((f) => f.subarray(8))).toString()).toBe('answer');
    expect(sent.at(-1)![4] & 1).toBe(1);
    expect(session.open).toBe(1);
    session.close();
  });

  it('echoes PING, resets a stream the peer resets, and refuses data for a stream it never opened', async () => {
    const { sessionSide, send, received } = pair();
    const seen = frames(received);
    const session = new SpdySession(sessionSide);
    const c = client();
    let stream: SpdyStream | undefined;
    session.on('stream', (s) => (stream = s));
    send(control(6, 0, u32(7)));
    send(c.synStream(1, { streamtype: 'data' }));
    send(control(3, 0, Buffer.concat([u32(1), u32(5)])));
    send(data(9, Buffer.from('stray')));
    await tick();
    expect(seen.find((f) => f.readUInt16BE(2) === 6)?.readUInt32BE(8)).toBe(7);
    expect(stream?.destroyed).toBe(true);
    const rst = seen.filter((f) => (f[0] & 0x80) !== 0 && f.readUInt16BE(2) === 3).map((f) => f.readUInt32BE(8));
    expect(rst).toContain(9);
    session.close();
  });

  it('sends a peer that speaks another version, or garbled headers, away with GOAWAY and closes', async () => {
    for (const bad of [
      control(1, 0, Buffer.alloc(12), 2),
      control(1, 0, Buffer.concat([u32(1), u32(0), Buffer.from([0, 0]), Buffer.from('not zlib at all')])),
    ]) {
      const { sessionSide, send, received } = pair();
      const seen = frames(received);
      const session = new SpdySession(sessionSide);
      const errors: Error[] = [];
      session.on('error', (e) => errors.push(e));
      const closed = new Promise<void>((r) => session.once('close', r));
      send(bad);
      await closed;
      expect(seen.some((f) => (f[0] & 0x80) !== 0 && f.readUInt16BE(2) === 7)).toBe(true);
      expect(errors[0].message).toMatch(/SPDY version 2|header block/);
    }
  });
});
