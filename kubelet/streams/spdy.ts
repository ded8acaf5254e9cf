/**
 * The server side of a SPDY/3 session, as much of it as port-forward needs: kubectl 1.32 speaks
 * it tunnelled in WebSocket messages (`SPDY/3.1+portforward.k8s.io`, KEP-4006), the client being
 * moby/spdystream. The peer opens streams (SYN_STREAM with headers); each is answered at once
 * (SYN_REPLY, no headers) and handed over as a Duplex: what the peer sends in DATA frames is read
 * from it, what is written to it goes out in DATA frames, `end()` sends FIN, `destroy()` a
 * RST_STREAM. PING is answered, SETTINGS and WINDOW_UPDATE are taken note of and ignored
 * (spdystream keeps no flow-control windows), GOAWAY ends the session.
 *
 * Header blocks are zlib streams, one per direction for the session, primed with the dictionary
 * of the SPDY/3 draft (section 2.6.10.1) and flushed at each block: pako keeps both contexts, so
 * a block is (de)compressed synchronously, in frame order.
 */
import { EventEmitter } from 'node:events';
import { Duplex } from 'node:stream';
import { Deflate, Inflate, Z_SYNC_FLUSH } from 'pako';

const VERSION = 3;
const TYPE = { SYN_STREAM: 1, SYN_REPLY: 2, RST_STREAM: 3, SETTINGS: 4, PING: 6, GOAWAY: 7, HEADERS: 8, WINDOW_UPDATE: 9 } as const;
const FLAG_FIN = 0x01;
/** RST_STREAM status codes. */
export const RST = { PROTOCOL_ERROR: 1, INVALID_STREAM: 2, REFUSED_STREAM: 3, CANCEL: 5, INTERNAL_ERROR: 6, STREAM_ALREADY_CLOSED: 9 } as const;
/** The largest frame read: bigger is a protocol error (no client sends near it). */
const MAX_FRAME = 1 << 24;
/** DATA frames carry at most this much, as spdystream writes them. */
const MAX_DATA = 64 * 1024;

// biome-ignore format: the draft's list, as it reads
const WORDS = [
  'options', 'head', 'post', 'put', 'delete', 'trace', 'accept', 'accept-charset', 'accept-encoding', 'accept-language',
  'accept-ranges', 'age', 'allow', 'authorization', 'cache-control', 'connection', 'content-base', 'content-encoding',
  'content-language', 'content-length', 'content-location', 'content-md5', 'content-range', 'content-type', 'date', 'etag',
  'expect', 'expires', 'from', 'host', 'if-match', 'if-modified-since', 'if-none-match', 'if-range', 'if-unmodified-since',
  'last-modified', 'location', 'max-forwards', 'pragma', 'proxy-authenticate', 'proxy-authorization', 'range', 'referer',
  'retry-after', 'server', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'user-agent', 'vary', 'via', 'warning',
  'www-authenticate', 'method', 'get', 'status', '200 OK', 'version', 'HTTP/1.1', 'url', 'public', 'set-cookie', 'keep-alive', 'origin',
];

const TAIL =
  '100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505' +
  '203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request401 Unauthorized403 Forbidden' +
  '404 Not Found500 Internal Server Error501 Not Implemented503 Service Unavailable' +
  'Jan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMT' +
  'chunked,text/html,image/png,image/jpg,image/gif,application/xml,application/xhtml+xml,text/plain,text/javascript,' +
  'publicprivatemax-age=gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0.';

/** The SPDY/3 header dictionary: each word with its 32-bit length before it, then the tail. */
export const DICTIONARY: Uint8Array = Buffer.concat([
  ...WORDS.map((w) => {
    const b = Buffer.alloc(4 + w.length);
    b.writeUInt32BE(w.length, 0);
    b.write(w, 4, 'latin1');
    return b;
  }),
  Buffer.from(TAIL, 'latin1'),
]);

export class SpdyProtocolError extends Error {}

/** Headers as spdystream sends them: lower-case names, values split on NUL. */
export type SpdyHeaders = Record<string, string[]>;

function encodeHeaders(headers: SpdyHeaders): Buffer {
  const parts: Buffer[] = [];
  const u32 = (n: number) => {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(n, 0);
    return b;
  };
  const entries = Object.entries(headers);
  parts.push(u32(entries.length));
  for (const [name, values] of entries) {
    const n = Buffer.from(name.toLowerCase(), 'utf8');
    const v = Buffer.from(values.join('\0'), 'utf8');
    parts.push(u32(n.length), n, u32(v.length), v);
  }
  return Buffer.concat(parts);
}

function decodeHeaders(block: Buffer): SpdyHeaders {
  const headers: SpdyHeaders = {};
  let at = 0;
  const u32 = () => {
    if (at + 4 > block.length) throw new SpdyProtocolError('header block cut short');
    const n = block.readUInt32BE(at);
    at += 4;
    return n;
  };
  const text = (length: number) => {
    if (at + length > block.length) throw new SpdyProtocolError('header block cut short');
    const s = block.toString('utf8', at, at + length);
    at += length;
    return s;
  };
  const count = u32();
  for (let i = 0; i < count; i++) {
    const name = text(u32()).toLowerCase();
    headers[name] = [...(headers[name] ?? []), ...text(u32()).split('\0')];
  }
  return headers;
}

/** One stream the peer opened: its headers, and its data both ways. */
export class SpdyStream extends Duplex {
  /** The peer sent FIN or RST: nothing more will be read. */
  private remoteClosed = false;
  private localClosed = false;

  constructor(
    readonly id: number,
    readonly headers: SpdyHeaders,
    private readonly session: SpdySession,
  ) {
    super({ allowHalfOpen: true });
  }

  header(name: string): string | undefined {
    return this.headers[name]?.[0];
  }

  override _read(): void {}

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (err?: Error | null) => void): void {
    if (this.localClosed) {
      done(new Error(`stream ${this.id} is closed`));
      return;
    }
    for (let at = 0; at < chunk.length; at += MAX_DATA) this.session.sendData(this.id, chunk.subarray(at, at + MAX_DATA), false);
    done();
  }

  override _final(done: (err?: Error | null) => void): void {
    if (!this.localClosed) {
      this.localClosed = true;
      this.session.sendData(this.id, Buffer.alloc(0), true);
    }
    this.session.settle(this);
    done();
  }

  override _destroy(err: Error | null, done: (err?: Error | null) => void): void {
    if (!this.localClosed || !this.remoteClosed) this.session.reset(this.id, RST.CANCEL);
    this.localClosed = true;
    this.remoteClosed = true;
    this.session.forget(this.id);
    done(err);
  }

  /** Data from the peer; `fin` ends the reading side. */
  received(data: Buffer, fin: boolean): void {
    if (this.remoteClosed) return;
    if (data.length) this.push(data);
    if (fin) {
      this.remoteClosed = true;
      this.push(null);
      this.session.settle(this);
    }
  }

  /** The peer reset the stream. */
  resetByPeer(): void {
    this.remoteClosed = true;
    this.localClosed = true;
    this.destroy();
  }

  get done(): boolean {
    return this.remoteClosed && this.localClosed;
  }
}

export interface SpdySessionEvents {
  stream: [SpdyStream];
  close: [];
  error: [Error];
}

/** A SPDY/3 session over `transport`, the server's side. */
export class SpdySession extends EventEmitter<SpdySessionEvents> {
  private readonly streams = new Map<number, SpdyStream>();
  private readonly inflate = new Inflate({ dictionary: DICTIONARY });
  private readonly deflate = new Deflate({ dictionary: DICTIONARY });
  private inflated: Uint8Array[] = [];
  private deflated: Uint8Array[] = [];
  private buffer: Buffer = Buffer.alloc(0);
  private lastStream = 0;
  private closed = false;

  constructor(private readonly transport: Duplex) {
    super();
    this.inflate.onData = (chunk) => this.inflated.push(chunk);
    this.deflate.onData = (chunk) => this.deflated.push(chunk);
    transport.on('data', (chunk: Buffer) => this.receive(chunk));
    transport.on('end', () => this.close());
    transport.on('close', () => this.close());
    transport.on('error', () => this.close());
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const stream of this.streams.values()) stream.destroy();
    this.streams.clear();
    this.transport.destroy();
    this.emit('close');
  }

  get open(): number {
    return this.streams.size;
  }

  private receive(chunk: Buffer): void {
    this.buffer = this.buffer.length ? Buffer.concat([this.buffer, chunk]) : chunk;
    try {
      while (this.buffer.length >= 8) {
        const length = this.buffer.readUInt32BE(4) & 0xffffff;
        if (length > MAX_FRAME) throw new SpdyProtocolError(`a frame of ${length} bytes`);
        if (this.buffer.length < 8 + length) return;
        const frame = this.buffer.subarray(0, 8 + length);
        this.buffer = this.buffer.subarray(8 + length);
        this.frame(frame);
      }
    } catch (err) {
      this.goAway(err instanceof SpdyProtocolError ? 1 : 2);
      this.emit('error', err as Error);
      this.close();
    }
  }

  private frame(frame: Buffer): void {
    const flags = frame[4];
    const body = frame.subarray(8);
    if ((frame[0] & 0x80) === 0) {
      this.data(frame.readUInt32BE(0) & 0x7fffffff, body, (flags & FLAG_FIN) !== 0);
      return;
    }
    const version = frame.readUInt16BE(0) & 0x7fff;
    if (version !== VERSION) throw new SpdyProtocolError(`SPDY version ${version}: only 3 is spoken`);
    switch (frame.readUInt16BE(2)) {
      case TYPE.SYN_STREAM:
        this.synStream(body, flags);
        break;
      case TYPE.RST_STREAM:
        this.streams.get(body.readUInt32BE(0) & 0x7fffffff)?.resetByPeer();
        break;
      case TYPE.PING:
        this.control(TYPE.PING, 0, body.subarray(0, 4));
        break;
      case TYPE.GOAWAY:
        this.close();
        break;
      case TYPE.HEADERS:
        // Read to keep the compression context in step; nothing here needs late headers.
        this.headerBlock(body.subarray(4));
        break;
      default:
      // SETTINGS, WINDOW_UPDATE, and types this side has no use for.
    }
  }

  private synStream(body: Buffer, flags: number): void {
    if (body.length < 10) throw new SpdyProtocolError('SYN_STREAM cut short');
    const id = body.readUInt32BE(0) & 0x7fffffff;
    const headers = this.headerBlock(body.subarray(10));
    // Streams the client opens are odd and ever higher.
    if (id % 2 === 0 || id <= this.lastStream) {
      this.reset(id, RST.PROTOCOL_ERROR);
      return;
    }
    this.lastStream = id;
    const stream = new SpdyStream(id, headers, this);
    this.streams.set(id, stream);
    this.control(TYPE.SYN_REPLY, 0, Buffer.concat([u32(id), this.compress({})]));
    if (flags & FLAG_FIN) stream.received(Buffer.alloc(0), true);
    this.emit('stream', stream);
  }

  private data(id: number, body: Buffer, fin: boolean): void {
    const stream = this.streams.get(id);
    if (stream) stream.received(body, fin);
    else this.reset(id, RST.INVALID_STREAM);
  }

  private headerBlock(compressed: Buffer): SpdyHeaders {
    this.inflated = [];
    if (compressed.length) this.inflate.push(compressed, Z_SYNC_FLUSH);
    if (this.inflate.err) throw new SpdyProtocolError(`header block: ${this.inflate.msg || 'does not inflate'}`);
    return decodeHeaders(Buffer.concat(this.inflated));
  }

  private compress(headers: SpdyHeaders): Buffer {
    this.deflated = [];
    this.deflate.push(encodeHeaders(headers), Z_SYNC_FLUSH);
    return Buffer.concat(this.deflated);
  }

  private control(type: number, flags: number, body: Buffer): void {
    const head = Buffer.alloc(8);
    head.writeUInt16BE(0x8000 | VERSION, 0);
    head.writeUInt16BE(type, 2);
    head.writeUInt32BE(((flags & 0xff) << 24) | body.length, 4);
    this.write(Buffer.concat([head, body]));
  }

  private write(frame: Buffer): void {
    if (!this.closed && !this.transport.destroyed) this.transport.write(frame);
  }

  sendData(id: number, data: Buffer, fin: boolean): void {
    const head = Buffer.alloc(8);
    head.writeUInt32BE(id & 0x7fffffff, 0);
    head.writeUInt32BE((((fin ? FLAG_FIN : 0) & 0xff) << 24) | data.length, 4);
    this.write(Buffer.concat([head, data]));
  }

  reset(id: number, status: number): void {
    this.control(TYPE.RST_STREAM, 0, Buffer.concat([u32(id), u32(status)]));
  }

  private goAway(status: number): void {
    this.control(TYPE.GOAWAY, 0, Buffer.concat([u32(this.lastStream), u32(status)]));
  }

  /** Forgets a stream closed both ways. */
  settle(stream: SpdyStream): void {
    if (stream.done) this.streams.delete(stream.id);
  }

  forget(id: number): void {
    this.streams.delete(id);
  }
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0, 0);
  return b;
}
