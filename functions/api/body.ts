/**
 * Request bodies: read with a size bound (3 MiB, as kube-apiserver), then decoded by content
 * type: JSON, YAML, or the Kubernetes protobuf envelope some kubectl commands send.
 */
import { parse as parseYaml } from 'yaml';
import { ProtobufDecodeError, decodeKubeProtobuf } from '../../shared/api/protobuf/decode.js';
import { ApiError, badRequest, unsupportedMediaType } from '../../shared/api/status.js';

export const MAX_BODY_BYTES = 3 * 1024 * 1024;

/** Reads the whole body, refusing more than `limit` bytes without reading them all. */
export async function readBody(request: Request, limit = MAX_BODY_BYTES): Promise<Uint8Array> {
  const declared = request.headers.get('content-length');
  if (declared !== null) {
    const length = Number(declared);
    if (!Number.isFinite(length) || length < 0) throw badRequest('the Content-Length header is not a number');
    if (length > limit) throw tooLarge(limit);
    if (length === 0) return new Uint8Array();
    // Bounded by the declared length: the adapter's direct read, without Web streams.
    return new Uint8Array(await request.arrayBuffer());
  }
  if (!hasBody(request)) return new Uint8Array();
  const reader = request.body!.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => undefined);
      throw tooLarge(limit);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks);
}

/** Whether a request carries a body at all (a length, or chunked transfer), from its headers. */
export function hasBody(request: Request): boolean {
  const length = request.headers.get('content-length');
  if (length !== null) return length !== '0';
  return request.headers.get('transfer-encoding') !== null;
}

function tooLarge(limit: number): ApiError {
  return new ApiError(413, 'RequestEntityTooLarge', `Request entity too large: limit is ${limit}`);
}

/** Decodes by media type; malformed input is a 400 naming the problem. */
export function decodeBody(bytes: Uint8Array, contentType: string | undefined): unknown {
  const media = (contentType ?? 'application/json').split(';')[0].trim().toLowerCase();
  const text = () => Buffer.from(bytes).toString('utf8');
  if (bytes.byteLength === 0) throw badRequest('the request body is empty');
  switch (media) {
    case '':
    case 'application/json':
    case 'application/merge-patch+json':
    case 'application/strategic-merge-patch+json':
    case 'application/json-patch+json':
      try {
        return JSON.parse(text());
      } catch (err) {
        throw badRequest(`the body of the request could not be decoded as JSON: ${(err as Error).message}`);
      }
    case 'application/yaml':
    case 'application/apply-patch+yaml':
    case 'text/yaml':
      try {
        // YAML is a superset of JSON: kubectl's apply-patch bodies are JSON.
        return parseYaml(text(), { maxAliasCount: 100 });
      } catch (err) {
        throw badRequest(`the body of the request could not be decoded as YAML: ${(err as Error).message.split('\n')[0]}`);
      }
    case 'application/vnd.kubernetes.protobuf':
      try {
        return decodeKubeProtobuf(bytes);
      } catch (err) {
        if (err instanceof ProtobufDecodeError) throw badRequest(`the body of the request could not be decoded as protobuf: ${err.message}`);
        throw err;
      }
    default:
      throw unsupportedMediaType(`the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf (got ${media})`);
  }
}
