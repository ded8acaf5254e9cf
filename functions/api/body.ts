/**
 * Request bodies: read with a size bound (3 MiB, as kube-apiserver), then decoded by content
 * type: JSON, YAML, or the Kubernetes protobuf envelope some kubectl commands send. Decoding
 * also bounds how deep objects and arrays nest (MAX_NESTING_DEPTH), before any recursive code
 * sees the value: a cheap bracket scan for JSON, the YAML parser's own (iterative) syntax tree
 * for YAML.
 */
import { Composer, LineCounter, Parser, isAlias, isCollection, isPair, isSeq, type CST, type Document } from 'yaml';
import { MAX_NESTING_DEPTH, nestingMessage } from '../../shared/api/patch/depth.js';
import { ProtobufDecodeError, decodeKubeProtobuf } from '../../shared/api/protobuf/decode.js';
import { ApiError, badRequest, unsupportedMediaType } from '../../shared/api/status.js';

export const MAX_BODY_BYTES = 3 * 1024 * 1024;
/** Aliases a YAML body may resolve: the YAML library's guard against entity expansion. */
const MAX_YAML_ALIASES = 100;

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
      // Only a body with more brackets than the bound can nest past it: small ones skip the scan.
      if (bytes.byteLength > MAX_NESTING_DEPTH && jsonNestedDeeperThan(bytes, MAX_NESTING_DEPTH)) {
        throw badRequest(`the body of the request could not be decoded as JSON: ${nestingMessage()}`);
      }
      try {
        return JSON.parse(text());
      } catch (err) {
        throw badRequest(`the body of the request could not be decoded as JSON: ${(err as Error).message}`);
      }
    case 'application/yaml':
    case 'application/apply-patch+yaml':
    case 'text/yaml':
      // YAML is a superset of JSON: kubectl's apply-patch bodies are JSON.
      return decodeYaml(text());
    case 'application/vnd.kubernetes.protobuf':
      try {
        return decodeKubeProtobuf(bytes);
      } catch (err) {
        if (err instanceof ProtobufDecodeError) throw badRequest(`the body of the request could not be decoded as protobuf: ${err.message}`);
        throw err;
      }
    default:
      throw unsupportedMediaType(
        `the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf (got ${media})`,
      );
  }
}

/**
 * Whether JSON text nests `[` and `{` deeper than `limit`, counting outside strings; one pass
 * over the bytes, stopping at the first level past the bound. Malformed text is JSON.parse's
 * to refuse.
 */
function jsonNestedDeeperThan(bytes: Uint8Array, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    if (inString) {
      if (b === 0x5c)
        i++; // a backslash escapes the next byte (\" or \\)
      else if (b === 0x22) inString = false;
    } else if (b === 0x22) inString = true;
    else if (b === 0x5b || b === 0x7b) {
      if (++depth > limit) return true;
    } else if (b === 0x5d || b === 0x7d) depth--;
  }
  return false;
}

class YamlRefusal extends Error {}

/**
 * YAML in stages, each bounded: the parser's concrete syntax tree (built with an explicit
 * stack, so any depth parses) is checked for depth and for collection keys before the
 * composer, which recurses, sees it; then aliases are resolved once to refuse cycles and
 * expansions past the depth bound; only then does the document become a plain value.
 */
function decodeYaml(source: string): unknown {
  const fail = (message: string) => badRequest(`the body of the request could not be decoded as YAML: ${message}`);
  const lines = new LineCounter();
  const at = (offset: number) => {
    const { line, col } = lines.linePos(offset);
    return line > 0 ? ` at line ${line}, column ${col}` : '';
  };
  try {
    const tokens = [...new Parser(lines.addNewLine).parse(source)];
    for (const token of tokens) checkYamlTokens(token, MAX_NESTING_DEPTH);
    let doc: Document.Parsed | undefined;
    for (const d of new Composer().compose(tokens, true, source.length)) {
      if (doc) throw fail(`the body holds more than one YAML document${at(d.range[0])}`);
      doc = d;
    }
    if (!doc) return null;
    const error = doc.errors[0];
    if (error) throw fail(`${error.message.split('\n')[0]}${at(error.pos[0])}`);
    checkYamlAliases(doc, MAX_NESTING_DEPTH);
    return doc.toJS({ maxAliasCount: MAX_YAML_ALIASES });
  } catch (err) {
    if (err instanceof ApiError) throw err;
    if (err instanceof YamlRefusal) throw fail(err.message);
    throw fail((err as Error).message.split('\n')[0]);
  }
}

const COLLECTION_TOKENS = new Set(['block-map', 'block-seq', 'flow-collection']);

/**
 * Walks a syntax tree without recursion: refuses collections nested past `limit`, and
 * collections used as map keys (JSON keys are strings, so Kubernetes refuses them too; the
 * YAML library also takes exponential time over nested ones).
 */
function checkYamlTokens(root: CST.Token, limit: number): void {
  const stack: [CST.Token, number][] = [[root, 0]];
  while (stack.length > 0) {
    const [token, depth] = stack.pop()!;
    if (token.type === 'document') {
      if (token.value) stack.push([token.value, depth]);
      continue;
    }
    if (token.type !== 'block-map' && token.type !== 'block-seq' && token.type !== 'flow-collection') continue;
    const inner = depth + 1;
    if (inner > limit) throw new YamlRefusal(nestingMessage(limit));
    // `[a: 1]` is a sequence of one-pair maps: a level more.
    const pairsInSeq = token.type === 'flow-collection' && token.start.source === '[';
    for (const item of token.items as { key?: CST.Token | null; sep?: unknown; value?: CST.Token | null }[]) {
      if (item.key && COLLECTION_TOKENS.has(item.key.type)) throw new YamlRefusal('a map key is a collection: keys must be strings');
      const level = pairsInSeq && (item.key || item.sep) ? inner + 1 : inner;
      if (level > limit) throw new YamlRefusal(nestingMessage(limit));
      if (item.value) stack.push([item.value, level]);
    }
  }
}

/**
 * Resolves each alias once (to the latest anchor of its name before it, as the YAML library
 * does) and measures the depth the document has once aliases are expanded: an alias inside
 * the node it names is a cycle, and chains of aliases may not nest past `limit`. Documents
 * without aliases, the usual case, cost one walk.
 */
function checkYamlAliases(doc: Document.Parsed, limit: number): void {
  const anchors = new Map<string, unknown>();
  const targets = new Map<unknown, unknown>();
  const walk: unknown[] = [doc.contents];
  while (walk.length > 0) {
    const node = walk.pop();
    if (isAlias(node)) {
      if (!anchors.has(node.source)) throw new YamlRefusal(`alias *${node.source} names no anchor before it`);
      targets.set(node, anchors.get(node.source));
      continue;
    }
    const anchor = (node as { anchor?: string } | null)?.anchor;
    if (anchor) anchors.set(anchor, node);
    if (isPair(node) && isAlias(node.key) && isCollection(anchors.get(node.key.source))) {
      throw new YamlRefusal('a map key is a collection: keys must be strings');
    }
    if (isPair(node)) walk.push(node.value, node.key);
    else if (isCollection(node)) for (let i = node.items.length - 1; i >= 0; i--) walk.push(node.items[i]);
  }
  if (targets.size === 0) return;
  // Height of a node with aliases expanded, memoized; `depth` is where it sits, so the
  // recursion stops at the bound whatever the aliases do.
  const heights = new Map<unknown, number>();
  const open = new Set<unknown>();
  const height = (node: unknown, depth: number): number => {
    if (isAlias(node)) {
      const target = targets.get(node);
      if (open.has(target)) throw new YamlRefusal(`alias *${node.source} is inside the node it names (a cycle)`);
      return height(target, depth);
    }
    if (isPair(node)) return Math.max(height(node.key, depth), height(node.value, depth));
    if (!isCollection(node)) return 0;
    const known = heights.get(node);
    if (known !== undefined) {
      if (depth + known > limit) throw new YamlRefusal(`${nestingMessage(limit)} once aliases are expanded`);
      return known;
    }
    if (depth + 1 > limit) throw new YamlRefusal(`${nestingMessage(limit)} once aliases are expanded`);
    open.add(node);
    let below = 0;
    for (const item of node.items) {
      // A pair in a sequence becomes a map of its own.
      const extra = isPair(item) && isSeq(node) ? 1 : 0;
      below = Math.max(below, extra + height(item, depth + 1 + extra));
    }
    open.delete(node);
    heights.set(node, below + 1);
    return below + 1;
  };
  height(doc.contents, 0);
}
