/**
 * Decodes the Kubernetes protobuf envelope (`k8s\0` + runtime.Unknown) into the object's JSON
 * shape, for the kinds kubectl's imperative commands send. Zero values and empty collections
 * are left out, as Kubernetes' JSON does; pointer fields keep their zero (schema `keep`).
 */
import type { KubeObject } from '../../store/object.js';
import { KIND_VERSIONS, KINDS, MESSAGES, type FieldDef } from './schema.js';
import { ProtobufDecodeError, WIRE, WireReader } from './wire.js';

export { ProtobufDecodeError };

const MAGIC = [0x6b, 0x38, 0x73, 0x00];
const MAX_DEPTH = 32;
const utf8 = new TextDecoder('utf-8', { fatal: true });

export function isKubeProtobuf(contentType: string | undefined): boolean {
  return (contentType ?? '').split(';')[0].trim().toLowerCase() === 'application/vnd.kubernetes.protobuf';
}

function text(bytes: Uint8Array | undefined): string {
  try {
    return utf8.decode(bytes ?? new Uint8Array());
  } catch {
    throw new ProtobufDecodeError('a string field is not valid UTF-8');
  }
}

function expectWire(actual: number, expected: number, def: FieldDef): void {
  if (actual !== expected) throw new ProtobufDecodeError(`field ${def.name} has wire type ${actual}, expected ${expected}`);
}

function toInt(v: bigint): number {
  // int32/int64 fields: two's complement in 64 bits.
  const signed = BigInt.asIntN(64, v);
  if (signed > BigInt(Number.MAX_SAFE_INTEGER) || signed < BigInt(Number.MIN_SAFE_INTEGER)) throw new ProtobufDecodeError('integer out of range');
  return Number(signed);
}

function decodeMapEntry(bytes: Uint8Array, value: 'string' | 'bytes' | 'quantity', depth: number): [string, string] {
  const r = new WireReader(bytes);
  let key = '';
  let val = '';
  while (!r.done) {
    const f = r.field();
    if (f.number === 1 && f.wireType === WIRE.LEN) key = text(f.bytes);
    else if (f.number === 2 && f.wireType === WIRE.LEN) {
      if (value === 'string') val = text(f.bytes);
      else if (value === 'bytes') val = Buffer.from(f.bytes!).toString('base64');
      else val = String(decodeMessage('Quantity', f.bytes!, depth + 1).string ?? '');
    }
  }
  return [key, val];
}

function decodeIntOrString(bytes: Uint8Array): number | string {
  const r = new WireReader(bytes);
  let type = 0n;
  let intVal = 0;
  let strVal = '';
  while (!r.done) {
    const f = r.field();
    if (f.number === 1 && f.wireType === WIRE.VARINT) type = f.varint!;
    else if (f.number === 2 && f.wireType === WIRE.VARINT) intVal = toInt(f.varint!);
    else if (f.number === 3 && f.wireType === WIRE.LEN) strVal = text(f.bytes);
  }
  return type === 1n ? strVal : intVal;
}

function decodeTime(bytes: Uint8Array): string | undefined {
  const r = new WireReader(bytes);
  let seconds = 0n;
  while (!r.done) {
    const f = r.field();
    if (f.number === 1 && f.wireType === WIRE.VARINT) seconds = f.varint!;
  }
  if (seconds === 0n) return undefined;
  return new Date(Number(BigInt.asIntN(64, seconds)) * 1000).toISOString().replace(/\.\d+Z$/, 'Z');
}

const QUANTITY: Record<number, FieldDef> = { 1: { name: 'string', type: { kind: 'string' } } };

function decodeMessage(name: string, bytes: Uint8Array, depth: number): Record<string, unknown> {
  if (depth > MAX_DEPTH) throw new ProtobufDecodeError('message nesting is too deep');
  const table = name === 'Quantity' ? QUANTITY : MESSAGES[name];
  if (!table) throw new ProtobufDecodeError(`no schema for ${name}`);
  const out: Record<string, unknown> = {};
  const r = new WireReader(bytes);
  while (!r.done) {
    const f = r.field();
    const def = table[f.number];
    if (!def) continue;
    let value: unknown;
    switch (def.type.kind) {
      case 'string':
        expectWire(f.wireType, WIRE.LEN, def);
        value = text(f.bytes);
        break;
      case 'bytes':
        expectWire(f.wireType, WIRE.LEN, def);
        value = Buffer.from(f.bytes!).toString('base64');
        break;
      case 'int':
        expectWire(f.wireType, WIRE.VARINT, def);
        value = toInt(f.varint!);
        break;
      case 'bool':
        expectWire(f.wireType, WIRE.VARINT, def);
        value = f.varint !== 0n;
        break;
      case 'message':
        expectWire(f.wireType, WIRE.LEN, def);
        value = decodeMessage(def.type.message, f.bytes!, depth + 1);
        // An embedded Go struct (json ",inline"): its fields are the parent's.
        if (def.name === '') {
          Object.assign(out, value);
          continue;
        }
        break;
      case 'intOrString':
        expectWire(f.wireType, WIRE.LEN, def);
        value = decodeIntOrString(f.bytes!);
        break;
      case 'time':
        expectWire(f.wireType, WIRE.LEN, def);
        value = decodeTime(f.bytes!);
        break;
      case 'map': {
        expectWire(f.wireType, WIRE.LEN, def);
        const [k, v] = decodeMapEntry(f.bytes!, def.type.value, depth);
        const target = (out[def.name] ??= {}) as Record<string, string>;
        target[k] = v;
        continue;
      }
    }
    if (def.repeated) {
      ((out[def.name] ??= []) as unknown[]).push(value);
      continue;
    }
    const empty = value === undefined || value === '' || ((value === 0 || value === false) && !def.keep);
    if (empty) delete out[def.name];
    else out[def.name] = value;
  }
  return out;
}

/** Decodes a `k8s\0`-prefixed runtime.Unknown; throws `ProtobufDecodeError` on anything else. */
export function decodeKubeProtobuf(body: Uint8Array): KubeObject {
  if (body.length < 4 || MAGIC.some((byte, i) => body[i] !== byte))
    throw new ProtobufDecodeError('the body does not start with the Kubernetes protobuf magic number');
  const r = new WireReader(body.subarray(4));
  let apiVersion = '';
  let kind = '';
  let raw: Uint8Array | undefined;
  while (!r.done) {
    const f = r.field();
    if (f.number === 1 && f.wireType === WIRE.LEN) {
      const tm = new WireReader(f.bytes!);
      while (!tm.done) {
        const g = tm.field();
        if (g.number === 1 && g.wireType === WIRE.LEN) apiVersion = text(g.bytes);
        else if (g.number === 2 && g.wireType === WIRE.LEN) kind = text(g.bytes);
      }
    } else if (f.number === 2 && f.wireType === WIRE.LEN) raw = f.bytes;
    else if (f.number === 3 && f.wireType === WIRE.LEN && f.bytes!.length > 0)
      throw new ProtobufDecodeError(`content encoding ${text(f.bytes)} is not supported`);
  }
  const message = KIND_VERSIONS[kind] === undefined || KIND_VERSIONS[kind] === apiVersion ? KINDS[kind] : undefined;
  if (!message) throw new ProtobufDecodeError(`protobuf bodies of kind ${JSON.stringify(kind)} (${apiVersion}) are not supported; send JSON`);
  if (!raw) throw new ProtobufDecodeError('the protobuf envelope holds no object');
  const object = decodeMessage(message, raw, 0);
  return { apiVersion, kind, ...object, metadata: (object.metadata ?? {}) as KubeObject['metadata'] };
}
