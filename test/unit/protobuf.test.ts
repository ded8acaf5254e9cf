/**
 * The protobuf bodies kubectl's imperative commands send decode to exactly the objects kubectl
 * itself makes of the same commands; hostile bodies fail fast with a clear error.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ProtobufDecodeError, decodeKubeProtobuf, isKubeProtobuf } from '../../shared/api/protobuf/decode.js';
import { PROTOBUF_COMMANDS, captureProtobufBodies, dryRunJson } from '../support/protobuf-capture.js';

const fixtures = join(dirname(fileURLToPath(import.meta.url)), '../fixtures/protobuf');
const fixture = (name: string) => readFileSync(join(fixtures, `${name}.bin`));

/** kubectl prints `creationTimestamp: null` for objects it has not sent; the wire has nothing. */
function withoutNullTimestamps(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutNullTimestamps);
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(
    Object.entries(value)
      .filter(([k, v]) => !(k === 'creationTimestamp' && v === null))
      .map(([k, v]) => [k, withoutNullTimestamps(v)]),
  );
}

describe('kubectl protobuf bodies', () => {
  it.each(Object.keys(PROTOBUF_COMMANDS))('%s: the fixture decodes to what `kubectl create --dry-run=client -o json` prints', (name) => {
    const decoded = decodeKubeProtobuf(fixture(name));
    expect(decoded).toEqual(withoutNullTimestamps(dryRunJson(PROTOBUF_COMMANDS[name])));
  });

  it('the fixtures are what the installed kubectl sends today', async () => {
    const live = await captureProtobufBodies();
    for (const [name, captured] of Object.entries(live)) {
      expect(isKubeProtobuf(captured.contentType)).toBe(true);
      expect(decodeKubeProtobuf(captured.body)).toEqual(decodeKubeProtobuf(fixture(name)));
    }
  }, 60_000);
});

describe('hostile protobuf bodies', () => {
  const deployment = fixture('deployment');

  it.each([
    ['an empty body', Buffer.alloc(0)],
    ['a wrong magic number', Buffer.from('k9s\u0000abc')],
    ['a truncated body', deployment.subarray(0, deployment.length - 7)],
    ['a varint that never ends', Buffer.concat([Buffer.from([0x6b, 0x38, 0x73, 0x00, 0x08]), Buffer.alloc(20, 0xff)])],
    ['a length far past the end', Buffer.from([0x6b, 0x38, 0x73, 0x00, 0x12, 0xff, 0xff, 0xff, 0xff, 0x0f])],
    ['field number zero', Buffer.from([0x6b, 0x38, 0x73, 0x00, 0x02, 0x00])],
    ['an unsupported wire type', Buffer.from([0x6b, 0x38, 0x73, 0x00, 0x0b])],
    ['an unknown kind', Buffer.from([0x6b, 0x38, 0x73, 0x00, 0x0a, 0x08, 0x0a, 0x02, 0x76, 0x31, 0x12, 0x02, 0x58, 0x59, 0x12, 0x00])],
  ])('%s fails with ProtobufDecodeError', (_name, body) => {
    const start = performance.now();
    expect(() => decodeKubeProtobuf(body)).toThrow(ProtobufDecodeError);
    expect(performance.now() - start).toBeLessThan(100);
  });

  it('random corruption of a real body never crashes or hangs', () => {
    let seed = 42;
    const rand = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
    for (let i = 0; i < 2000; i++) {
      const body = Buffer.from(deployment);
      for (let j = 0; j < 3; j++) body[4 + Math.floor(rand() * (body.length - 4))] = Math.floor(rand() * 256);
      try {
        const decoded = decodeKubeProtobuf(body);
        expect(typeof decoded.metadata).toBe('object');
      } catch (err) {
        expect(err).toBeInstanceOf(ProtobufDecodeError);
      }
    }
  });
});
