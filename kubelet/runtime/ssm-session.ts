/**
 * The Session Manager data channel, as ECS ExecuteCommand hands it out: a WebSocket to
 * `ssmmessages` (the session's `streamUrl`), opened with the session's token in a first text
 * frame, then binary agent messages both ways (the layout of the Session Manager plugin's
 * `ClientMessage`):
 *
 *   header length (4) | message type (32, space-padded) | schema version (4) | created (8, epoch ms)
 *   | sequence number (8) | flags (8) | message id (16, a UUID's low half first) | SHA-256 of the
 *   payload (32) | payload type (4) | payload length (4) | payload
 *
 * The agent opens with a handshake (`output_stream_data`, payload HandshakeRequest), the client
 * answers (HandshakeResponse) and the agent completes it; from then on the client's input and
 * terminal size go as `input_stream_data` (payload types Output and Size), the command's output
 * comes as `output_stream_data`, each side acknowledges each of the other's sequenced messages,
 * and `channel_closed` ends the session. ECS runs every command on a terminal.
 *
 * Both ends are here: `openDataChannel` is the client the `ecs` runtime uses; the codec serves
 * the ECS emulator's agent end too.
 */
import { createHash, randomUUID } from 'node:crypto';
import { PassThrough, Writable } from 'node:stream';
import WebSocket from 'ws';

export const MESSAGE = {
  input: 'input_stream_data',
  output: 'output_stream_data',
  acknowledge: 'acknowledge',
  closed: 'channel_closed',
} as const;

export const PAYLOAD = { output: 1, error: 2, size: 3, handshakeRequest: 5, handshakeResponse: 6, handshakeComplete: 7 } as const;

/** Where the payload length sits: the header length field's value. */
const HEADER_LENGTH = 116;
const FLAG_SYN = 1n;

export interface AgentMessage {
  messageType: string;
  sequenceNumber: number;
  payloadType: number;
  payload: Buffer;
  messageId?: string;
  createdDate?: number;
  flags?: bigint;
}

function uuidBytes(id: string): Buffer {
  const raw = Buffer.from(id.replace(/-/g, ''), 'hex');
  return Buffer.concat([raw.subarray(8, 16), raw.subarray(0, 8)]);
}

function uuidText(bytes: Buffer): string {
  const hex = Buffer.concat([bytes.subarray(8, 16), bytes.subarray(0, 8)]).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export function encodeMessage(m: AgentMessage): Buffer {
  const out = Buffer.alloc(HEADER_LENGTH + 4 + m.payload.length);
  out.writeUInt32BE(HEADER_LENGTH, 0);
  out.write(m.messageType.padEnd(32, ' '), 4, 32, 'utf8');
  out.writeUInt32BE(1, 36);
  out.writeBigUInt64BE(BigInt(m.createdDate ?? Date.now()), 40);
  out.writeBigInt64BE(BigInt(m.sequenceNumber), 48);
  out.writeBigUInt64BE(m.flags ?? (m.sequenceNumber === 0 ? FLAG_SYN : 0n), 56);
  uuidBytes(m.messageId ?? randomUUID()).copy(out, 64);
  createHash('sha256').update(m.payload).digest().copy(out, 80);
  out.writeUInt32BE(m.payloadType, 112);
  out.writeUInt32BE(m.payload.length, 116);
  m.payload.copy(out, 120);
  return out;
}

export function decodeMessage(data: Buffer): AgentMessage {
  if (data.length < HEADER_LENGTH + 4) throw new Error(`an agent message of ${data.length} bytes is shorter than its header`);
  const headerLength = data.readUInt32BE(0);
  const length = data.readUInt32BE(headerLength);
  const payload = data.subarray(headerLength + 4, headerLength + 4 + length);
  if (payload.length !== length) throw new Error('an agent message ends before its payload');
  if (!createHash('sha256').update(payload).digest().equals(data.subarray(80, 112))) throw new Error('an agent message whose payload digest does not match');
  return {
    messageType: data.toString('utf8', 4, 36).trim(),
    createdDate: Number(data.readBigUInt64BE(40)),
    sequenceNumber: Number(data.readBigInt64BE(48)),
    flags: data.readBigUInt64BE(56),
    messageId: uuidText(data.subarray(64, 80)),
    payloadType: data.readUInt32BE(112),
    payload,
  };
}

/** The acknowledgement of a sequenced message. */
export function acknowledgement(m: AgentMessage): Buffer {
  const content = {
    AcknowledgedMessageType: m.messageType,
    AcknowledgedMessageId: m.messageId,
    AcknowledgedMessageSequenceNumber: m.sequenceNumber,
    IsSequentialMessage: true,
  };
  return encodeMessage({ messageType: MESSAGE.acknowledge, sequenceNumber: 0, payloadType: 0, payload: Buffer.from(JSON.stringify(content)) });
}

export interface DataChannel {
  /** What the command prints (its terminal's output). */
  output: PassThrough;
  /** Keystrokes to the command's terminal. */
  input: Writable;
  resize(size: { width: number; height: number }): void;
  /** Resolves when the agent closes the channel (the command ended) or the socket does. */
  closed: Promise<void>;
  close(): void;
}

/**
 * Opens a session's data channel as the Session Manager plugin does: the token, the handshake
 * (an InteractiveCommands session), then the terminal both ways.
 */
export function openDataChannel(session: { streamUrl: string; tokenValue: string }, size?: { width: number; height: number }): Promise<DataChannel> {
  const ws = new WebSocket(session.streamUrl);
  const output = new PassThrough();
  let sequence = 0;
  let closedResolve!: () => void;
  const closed = new Promise<void>((r) => (closedResolve = r));
  const send = (payloadType: number, payload: Buffer) => {
    if (ws.readyState !== WebSocket.OPEN) return;
    ws.send(encodeMessage({ messageType: MESSAGE.input, sequenceNumber: sequence++, payloadType, payload }));
  };
  const sendSize = (s: { width: number; height: number }) => send(PAYLOAD.size, Buffer.from(JSON.stringify({ cols: s.width, rows: s.height })));
  return new Promise<DataChannel>((resolve, reject) => {
    const input = new Writable({
      write(chunk: Buffer, _encoding, done) {
        send(PAYLOAD.output, chunk);
        done();
      },
    });
    const channel: DataChannel = { output, input, resize: sendSize, closed, close: () => ws.close() };
    ws.on('open', () =>
      ws.send(
        JSON.stringify({
          MessageSchemaVersion: '1.0',
          RequestId: randomUUID(),
          TokenValue: session.tokenValue,
          ClientId: randomUUID(),
          ClientVersion: '1.2.0.0',
        }),
      ),
    );
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (!isBinary) return;
      let m: AgentMessage;
      try {
        m = decodeMessage(data);
      } catch (err) {
        ws.close();
        reject(err);
        return;
      }
      if (m.messageType === MESSAGE.closed) {
        ws.close();
        return;
      }
      if (m.messageType !== MESSAGE.output) return;
      ws.send(acknowledgement(m));
      if (m.payloadType === PAYLOAD.handshakeRequest) {
        const request = JSON.parse(m.payload.toString('utf8')) as { RequestedClientActions?: { ActionType: string }[] };
        const processed = (request.RequestedClientActions ?? []).map((a) => ({ ActionType: a.ActionType, ActionStatus: 1 }));
        send(PAYLOAD.handshakeResponse, Buffer.from(JSON.stringify({ ClientVersion: '1.2.0.0', ProcessedClientActions: processed, Errors: [] })));
      } else if (m.payloadType === PAYLOAD.handshakeComplete) {
        sendSize(size ?? { width: 200, height: 50 });
        resolve(channel);
      } else if (m.payloadType === PAYLOAD.output || m.payloadType === PAYLOAD.error) output.write(m.payload);
    });
    ws.on('error', (err) => {
      reject(err);
      output.destroy(err);
    });
    ws.on('close', () => {
      reject(new Error('the session closed before its handshake completed'));
      output.end();
      closedResolve();
    });
  });
}
