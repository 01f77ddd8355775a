/**
 * DER access for the parts of X.509 certificates that the SDK checks, on top of `asn1js`.
 *
 * `asn1js` does all decoding (identifier and length octets, OIDs, INTEGERs, BIT STRINGs,
 * BOOLEANs, UTCTime and GeneralizedTime); this module only adapts its blocks to the small
 * synchronous {@link Asn1Node} API that ./facts.ts and the SVID parser use. `asn1js` reads BER,
 * which lets one value have many encodings, so the DER rules that keep a certificate's meaning
 * unambiguous (one element filling its input, definite and minimal lengths, low-tag-number form,
 * minimal INTEGER and OID encodings, BOOLEAN as 0x00/0xFF) are checked here on top of what it
 * decoded. `asn1js` reports errors through `result.error` and offset -1 but can also throw plain
 * errors (e.g. on a GeneralizedTime it cannot convert); both become {@link Asn1Error}, so callers
 * fail closed with one `catch`. OpenSSL has already parsed the certificate; this reads structure.
 *
 * Cost: `fromBER` takes about 0.6 ms for a 480-byte certificate on Node 20 (measured; most of it
 * per-block overhead inside asn1js), several times OpenSSL's whole parse. That is paid once per
 * certificate object: ./facts.ts caches its results per `X509Certificate`, and ./cert-cache.ts
 * maps repeated DER to the same object.
 */
import {
  BitString,
  Boolean as Asn1Boolean,
  fromBER,
  GeneralizedTime,
  Integer,
  ObjectIdentifier,
  OctetString,
  UTCTime,
  type BaseBlock,
  type Constructed,
} from 'asn1js';

/** A structural problem in DER input. Internal; callers turn it into an SDK error. */
export class Asn1Error extends Error {}

/** ASN.1 tag classes (X.690 numbering; `asn1js` counts from 1). */
export const TAG_CLASS_UNIVERSAL = 0;
export const TAG_CLASS_CONTEXT = 2;

/** Universal tag numbers used here. */
const BOOLEAN = 1;
const INTEGER = 2;
const BIT_STRING = 3;
const OCTET_STRING = 4;
const OBJECT_IDENTIFIER = 6;
const SEQUENCE = 16;
const UTC_TIME = 23;
const GENERALIZED_TIME = 24;

/** One DER element: its tag and where its header and contents lie in `bytes`. */
export interface Asn1Node {
  readonly tagClass: number;
  readonly constructed: boolean;
  readonly tagNumber: number;
  /** The whole input the element was read from (not copied). */
  readonly bytes: Uint8Array;
  /** Offset of the identifier octet. */
  readonly start: number;
  /** Offset of the first content octet. */
  readonly contentStart: number;
  /** Offset just past the element. */
  readonly end: number;
  /** What `asn1js` decoded for this element. */
  readonly block: BaseBlock;
  /** The decoded children of a constructed element (empty for a primitive one). */
  readonly children: readonly Asn1Node[];
}

/**
 * `fromBER` options: no copy (nodes are views into the caller's bytes), and no speculative
 * decoding of OCTET STRING / BIT STRING contents (extension values are decoded on demand with
 * {@link decodeOne}; the speculative pass costs time and hides errors in a `catch`).
 */
const FROM_BER_OPTIONS = Object.freeze({ copyInput: false, parseEmbedded: false });

function asn1Error(what: string, message: string, cause?: unknown): Asn1Error {
  return cause === undefined
    ? new Asn1Error(`${what}: ${message}`)
    : new Asn1Error(`${what}: ${message}`, { cause });
}

/** The number of octets DER uses for the length octets of a value of `length` octets. */
function derLengthOctets(length: number): number {
  let octets = 1;
  if (length >= 0x80) for (let rest = length; rest > 0; rest = Math.floor(rest / 256)) octets++;
  return octets;
}

/**
 * Adapts a block `asn1js` decoded at `start` in `bytes`, enforcing on it (and, recursively, on its
 * children) the DER rules that `asn1js`, a BER reader, lets through.
 */
function adapt(block: BaseBlock, bytes: Uint8Array, start: number, what: string): Asn1Node {
  const { idBlock, lenBlock } = block;
  if (block.error !== '' || idBlock.error !== '' || lenBlock.error !== '') {
    throw asn1Error(what, block.error || idBlock.error || lenBlock.error);
  }
  // DER (X.690 §10.1) forbids the indefinite form: it lets an element's end depend on an
  // end-of-contents marker instead of its header.
  if (lenBlock.isIndefiniteForm) throw asn1Error(what, 'indefinite length (not DER)');
  // X.509 uses no tag number above 30; the high-tag-number form is also how a non-minimal tag
  // encoding would slip in.
  if (idBlock.blockLength !== 1) throw asn1Error(what, 'high-tag-number form is not supported');
  // DER (X.690 §10.1) requires the minimal length encoding, so that each value has exactly one
  // encoding (certificates are compared and hashed as bytes).
  if (lenBlock.blockLength !== derLengthOctets(lenBlock.length)) {
    throw asn1Error(what, 'non-minimal length (not DER)');
  }
  const contentStart = start + idBlock.blockLength + lenBlock.blockLength;
  const end = contentStart + lenBlock.length;
  if (block.blockLength !== end - start || end > bytes.length) {
    throw asn1Error(what, 'DER value overruns its container');
  }
  const children: Asn1Node[] = [];
  if (idBlock.isConstructed) {
    const items: unknown = (block.valueBlock as Partial<Constructed['valueBlock']>).value;
    // asn1js keeps a constructed character string (BER only, X.690 §10.2) as one text value, and
    // no children at all for other primitive-only types in constructed form.
    if (!Array.isArray(items)) {
      throw asn1Error(what, 'constructed encoding of a primitive type (not DER)');
    }
    let pos = contentStart;
    for (const child of items as BaseBlock[]) {
      const node = adapt(child, bytes, pos, what);
      children.push(node);
      pos = node.end;
    }
  }
  return Object.freeze({
    tagClass: idBlock.tagClass - 1,
    constructed: idBlock.isConstructed,
    tagNumber: idBlock.tagNumber,
    bytes,
    start,
    contentStart,
    end,
    block,
    children: Object.freeze(children),
  });
}

/** Decodes the element at `start` in `bytes` with `asn1js`; only Asn1Error escapes. */
function decodeAt(bytes: Uint8Array, start: number, what: string): Asn1Node {
  try {
    const { offset, result } = fromBER(bytes.subarray(start), FROM_BER_OPTIONS);
    if (offset === -1 || result.error !== '')
      throw asn1Error(what, result.error || 'truncated DER');
    const node = adapt(result, bytes, start, what);
    if (node.end !== start + offset) throw asn1Error(what, 'DER value overruns its container');
    return node;
  } catch (err) {
    if (err instanceof Asn1Error) throw err;
    throw asn1Error(what, err instanceof Error ? err.message : String(err), err);
  }
}

/** Decodes exactly one DER element that must fill `der` completely. */
export function decodeOne(der: Uint8Array, what: string): Asn1Node {
  if (der.length === 0) throw asn1Error(what, 'truncated DER');
  const node = decodeAt(der, 0, what);
  // `fromBER` stops after the first element and ignores the rest; DER input that carries bytes
  // after its value could smuggle data past anything that hashes or compares the value alone.
  if (node.end !== der.length) throw asn1Error(what, 'trailing bytes after the DER value');
  return node;
}

/**
 * Splits concatenated DER elements (the Workload API's certificate encoding) without interpreting
 * their contents. Throws {@link Asn1Error} for bytes that are not whole DER elements.
 */
export function splitDerElements(der: Uint8Array, what: string): Uint8Array[] {
  const out: Uint8Array[] = [];
  let pos = 0;
  while (pos < der.length) {
    const node = decodeAt(der, pos, `${what} at byte ${pos}`);
    out.push(der.subarray(node.start, node.end));
    pos = node.end;
  }
  return out;
}

/** The contents of `node` (a view, not a copy). */
export function contentOf(node: Asn1Node): Uint8Array {
  return node.bytes.subarray(node.contentStart, node.end);
}

/** The children of a constructed element, which exactly fill it. */
export function constructedItems(node: Asn1Node | undefined, what: string): Asn1Node[] {
  if (node?.constructed !== true) throw asn1Error(what, 'expected a constructed value');
  return [...node.children];
}

function isUniversal(node: Asn1Node | undefined, tag: number): node is Asn1Node {
  return node?.tagClass === TAG_CLASS_UNIVERSAL && node.tagNumber === tag;
}

/** The children of a SEQUENCE. */
export function sequenceItems(node: Asn1Node | undefined, what: string): Asn1Node[] {
  if (!isUniversal(node, SEQUENCE)) throw asn1Error(what, 'expected a SEQUENCE');
  return constructedItems(node, what);
}

/** Whether `node` carries the context-specific tag `[n]`. */
export function isContextTag(node: Asn1Node | undefined, n: number): boolean {
  return node?.tagClass === TAG_CLASS_CONTEXT && node.tagNumber === n;
}

/** Whether `node` is a universal BOOLEAN. */
export function isBoolean(node: Asn1Node | undefined): boolean {
  return isUniversal(node, BOOLEAN);
}

/** `node` and its `asn1js` block, which must be a primitive universal element of type `type`. */
function primitive<T extends BaseBlock>(
  node: Asn1Node | undefined,
  tag: number,
  type: abstract new (...args: never[]) => T,
  name: string,
  what: string,
): { node: Asn1Node; block: T } {
  if (!isUniversal(node, tag) || node.constructed || !(node.block instanceof type)) {
    throw asn1Error(what, `expected a primitive ${name}`);
  }
  return { node, block: node.block };
}

/** The dotted form of an OBJECT IDENTIFIER. */
export function oidOf(node: Asn1Node | undefined, what: string): string {
  const oid = primitive(node, OBJECT_IDENTIFIER, ObjectIdentifier, 'OID', what).block;
  const arcs = oid.valueBlock.value;
  if (arcs.length === 0) throw asn1Error(what, 'empty OID');
  for (const arc of arcs) {
    // X.690 §8.19.2: a subidentifier starting with 0x80 is a non-minimal encoding. (asn1js
    // only warns about it, and also for a legitimate single-octet 0 arc.)
    if (arc.blockLength > 1 && arc.valueHexView[0] === 0) {
      throw asn1Error(what, 'non-minimal OID encoding');
    }
    // asn1js keeps arcs it cannot represent as numbers in hex only.
    if (arc.isHexOnly || !Number.isSafeInteger(arc.valueDec)) {
      throw asn1Error(what, 'OID arc too large');
    }
  }
  return oid.getValue();
}

/** The value of a BOOLEAN (DER: 0x00 or 0xFF). */
export function booleanOf(node: Asn1Node | undefined, what: string): boolean {
  const bool = primitive(node, BOOLEAN, Asn1Boolean, 'BOOLEAN', what).block;
  // asn1js reads any non-zero octets as true; DER (X.690 §11.1) allows exactly one octet,
  // 0x00 or 0xFF.
  const octets = bool.valueBlock.valueHexView;
  if (octets.length !== 1 || (octets[0] !== 0 && octets[0] !== 0xff)) {
    throw asn1Error(what, 'malformed BOOLEAN');
  }
  return bool.getValue();
}

/** The contents of an OCTET STRING. */
export function octetsOf(node: Asn1Node | undefined, what: string): Uint8Array {
  return contentOf(primitive(node, OCTET_STRING, OctetString, 'OCTET STRING', what).node);
}

/** The contents of an implicitly tagged primitive (such as a `[2] dNSName` or `[6] URI`). */
export function primitiveBytesOf(node: Asn1Node | undefined, what: string): Uint8Array {
  if (node === undefined || node.constructed) {
    throw asn1Error(what, 'expected a primitive value');
  }
  return contentOf(node);
}

/** `node` and its INTEGER block, with at least one content octet. */
function integer(node: Asn1Node | undefined, what: string): { node: Asn1Node; block: Integer } {
  const int = primitive(node, INTEGER, Integer, 'INTEGER', what);
  if (int.block.valueBlock.valueHexView.length === 0) throw asn1Error(what, 'empty INTEGER');
  return int;
}

/** A small non-negative INTEGER (up to 2^31 - 1), minimally encoded. */
export function smallIntegerOf(node: Asn1Node | undefined, what: string): number {
  const int = integer(node, what).block;
  const octets = int.valueBlock.valueHexView;
  // DER (X.690 §8.3.2) forbids a redundant leading zero octet; asn1js only warns about it, and
  // not at all for values of four octets or more.
  const [b0 = 0, b1 = 0] = octets;
  if (octets.length > 1 && b0 === 0 && b1 < 0x80) throw asn1Error(what, 'malformed INTEGER');
  // Bounded before conversion so that a hostile length cannot make the conversion costly.
  if (octets.length > 5) throw asn1Error(what, 'INTEGER out of range');
  const value = int.toBigInt();
  if (value < 0n || value > 0x7fffffffn) throw asn1Error(what, 'INTEGER out of range');
  return Number(value);
}

/** The contents of an INTEGER (two's complement, big-endian). */
export function integerBytesOf(node: Asn1Node | undefined, what: string): Uint8Array {
  return contentOf(integer(node, what).node);
}

/** The BIT STRING block of `node`, with at least its unused-bits octet. */
function bitString(node: Asn1Node | undefined, what: string): BitString {
  const { node: bitsNode, block: bits } = primitive(
    node,
    BIT_STRING,
    BitString,
    'BIT STRING',
    what,
  );
  // asn1js accepts an empty BIT STRING; X.690 §8.6.2 requires the unused-bits octet, and no
  // unused bits when there are no data octets.
  const data = bits.valueBlock.valueHexView;
  const unused = bits.valueBlock.unusedBits;
  if (contentOf(bitsNode).length === 0 || (data.length === 0 && unused !== 0)) {
    throw asn1Error(what, 'malformed BIT STRING');
  }
  return bits;
}

/** The contents of a BIT STRING that must hold whole bytes (a key or signature). */
export function bitStringBytesOf(node: Asn1Node | undefined, what: string): Uint8Array {
  const { node: bitsNode, block: bits } = primitive(
    node,
    BIT_STRING,
    BitString,
    'BIT STRING',
    what,
  );
  if (contentOf(bitsNode).length === 0 || bits.valueBlock.unusedBits !== 0) {
    throw asn1Error(what, 'BIT STRING with unused bits');
  }
  return bits.valueBlock.valueHexView;
}

/** The bits of a BIT STRING, most significant bit of the first byte first. */
export function bitsOf(node: Asn1Node | undefined, what: string): boolean[] {
  const block = bitString(node, what).valueBlock;
  const data = block.valueHexView;
  const total = data.length * 8 - block.unusedBits;
  const bits: boolean[] = [];
  for (let i = 0; i < total; i++) bits.push((((data[i >> 3] ?? 0) >> (7 - (i & 7))) & 1) === 1);
  return bits;
}

/**
 * The forms RFC 5280 §4.1.2.5 requires (seconds, `Z`, no fractions). asn1js also accepts other
 * forms (offsets, fractions; an unanchored match for UTCTime), so its text is checked against them
 * before its decoded fields are used.
 */
const UTC_TIME_FORMAT = /^\d{12}Z$/;
const GENERALIZED_TIME_FORMAT = /^\d{14}Z$/;

/**
 * A UTCTime or GeneralizedTime in the forms RFC 5280 §4.1.2.5 requires (seconds, `Z`, no
 * fractions), as epoch milliseconds.
 */
export function timeOf(node: Asn1Node | undefined, what: string): number {
  let time: UTCTime | undefined;
  let format = UTC_TIME_FORMAT;
  if (isUniversal(node, UTC_TIME) && !node.constructed && node.block instanceof UTCTime) {
    time = node.block;
  } else if (
    isUniversal(node, GENERALIZED_TIME) &&
    !node.constructed &&
    node.block instanceof GeneralizedTime
  ) {
    time = node.block;
    format = GENERALIZED_TIME_FORMAT;
  }
  // asn1js records a UTCTime it cannot convert in `error` instead of failing the decode.
  if (
    time?.error !== '' ||
    !format.test(Buffer.from(time.valueBlock.valueHexView).toString('latin1'))
  ) {
    throw asn1Error(what, 'expected a UTCTime or GeneralizedTime');
  }
  const { year, month, day, hour, minute, second } = time;
  const ms = Date.UTC(year, month - 1, day, hour, minute, second);
  // Date.UTC rolls impossible dates over (30 February becomes 2 March); asn1js does the same.
  const check = new Date(ms);
  if (
    check.getUTCFullYear() !== year ||
    check.getUTCMonth() !== month - 1 ||
    check.getUTCDate() !== day ||
    check.getUTCHours() !== hour ||
    check.getUTCMinutes() !== minute ||
    check.getUTCSeconds() !== second
  ) {
    throw asn1Error(what, 'invalid date');
  }
  return ms;
}

/** The DER encoding of `node` exactly as it appeared in the input (a view). */
export function rawOf(node: Asn1Node | undefined, what: string): Uint8Array {
  if (node === undefined) throw asn1Error(what, 'missing');
  return node.bytes.subarray(node.start, node.end);
}
