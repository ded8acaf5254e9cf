/**
 * A protobuf wire-format reader: varints, lengths, fixed widths. Bounded on every read, so a
 * truncated or hostile body fails with `ProtobufDecodeError` instead of looping or crashing.
 */
export class ProtobufDecodeError extends Error {}

export const WIRE = { VARINT: 0, I64: 1, LEN: 2, I32: 5 } as const;

export interface Field {
  number: number;
  wireType: number;
  /** For VARINT: the value (as a bigint, 64-bit safe). */
  varint?: bigint;
  /** For LEN: the bytes. */
  bytes?: Uint8Array;
}

export class WireReader {
  private pos = 0;

  constructor(private readonly buf: Uint8Array) {}

  get done(): boolean {
    return this.pos >= this.buf.length;
  }

  varint(): bigint {
    let result = 0n;
    let shift = 0n;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.buf.length) throw new ProtobufDecodeError('truncated varint');
      const byte = this.buf[this.pos++];
      result |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return result;
      shift += 7n;
    }
    throw new ProtobufDecodeError('varint longer than 10 bytes');
  }

  private take(length: number): Uint8Array {
    if (length < 0 || this.pos + length > this.buf.length) throw new ProtobufDecodeError(`length ${length} runs past the end of the message`);
    const out = this.buf.subarray(this.pos, this.pos + length);
    this.pos += length;
    return out;
  }

  /** The next field; unknown ones can be skipped by the caller ignoring them. */
  field(): Field {
    const key = this.varint();
    const number = Number(key >> 3n);
    const wireType = Number(key & 7n);
    if (number === 0) throw new ProtobufDecodeError('field number 0 is not valid');
    switch (wireType) {
      case WIRE.VARINT:
        return { number, wireType, varint: this.varint() };
      case WIRE.LEN: {
        const length = this.varint();
        if (length > BigInt(this.buf.length)) throw new ProtobufDecodeError(`length ${length} runs past the end of the message`);
        return { number, wireType, bytes: this.take(Number(length)) };
      }
      case WIRE.I64:
        return { number, wireType, bytes: this.take(8) };
      case WIRE.I32:
        return { number, wireType, bytes: this.take(4) };
      default:
        throw new ProtobufDecodeError(`unsupported wire type ${wireType} (field ${number})`);
    }
  }
}
