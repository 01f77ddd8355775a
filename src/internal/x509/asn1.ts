/**
 * A small, strict DER reader for the parts of X.509 certificates that the SDK checks.
 *
 * Why not `asn1js` here: its `fromBER` costs about 200 µs per call even for a five-byte value
 * (measured on Node 20), so reading one certificate's extensions cost several times more than
 * OpenSSL's whole parse, and the TLS layer pays it for every new peer certificate. This reader walks
 * tag-length-value triples over the input bytes without copying; it accepts DER only (definite,
 * minimal lengths; low-tag-number form) and throws {@link Asn1Error} on anything else, so callers
 * fail closed with one `catch`. It reads structure only; OpenSSL has already parsed the certificate.
 */

/** A structural problem in DER input. Internal; callers turn it into an SDK error. */
export class Asn1Error extends Error {}

/** ASN.1 tag classes. */
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
}

function readNode(bytes: Uint8Array, offset: number, limit: number, what: string): Asn1Node {
  if (offset + 2 > limit) throw new Asn1Error(`${what}: truncated DER`);
  const id = bytes[offset] ?? 0;
  const tagNumber = id & 0x1f;
  if (tagNumber === 0x1f) throw new Asn1Error(`${what}: high-tag-number form is not supported`);
  let pos = offset + 1;
  const first = bytes[pos++] ?? 0;
  let length: number;
  if (first < 0x80) {
    length = first;
  } else {
    const count = first & 0x7f;
    if (count === 0) throw new Asn1Error(`${what}: indefinite length (not DER)`);
    if (count > 4) throw new Asn1Error(`${what}: length too large`);
    if (pos + count > limit) throw new Asn1Error(`${what}: truncated DER length`);
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + (bytes[pos++] ?? 0);
    if (length < 0x80 || (bytes[pos - count] ?? 0) === 0) {
      throw new Asn1Error(`${what}: non-minimal length (not DER)`);
    }
  }
  const end = pos + length;
  if (end > limit) throw new Asn1Error(`${what}: DER value overruns its container`);
  return {
    tagClass: id >> 6,
    constructed: (id & 0x20) !== 0,
    tagNumber,
    bytes,
    start: offset,
    contentStart: pos,
    end,
  };
}

/** Decodes exactly one DER element that must fill `der` completely. */
export function decodeOne(der: Uint8Array, what: string): Asn1Node {
  const node = readNode(der, 0, der.length, what);
  if (node.end !== der.length) throw new Asn1Error(`${what}: trailing bytes after the DER value`);
  return node;
}

/**
 * Splits concatenated DER elements (the Workload API's certificate encoding) without decoding
 * their contents. Throws {@link Asn1Error} for empty input or bytes that are not whole elements.
 */
export function splitDerElements(der: Uint8Array, what: string): Uint8Array[] {
  const out: Uint8Array[] = [];
  let pos = 0;
  while (pos < der.length) {
    const node = readNode(der, pos, der.length, `${what} at byte ${pos}`);
    out.push(der.subarray(node.start, node.end));
    pos = node.end;
  }
  return out;
}

/** The contents of `node` (a view, not a copy). */
export function contentOf(node: Asn1Node): Uint8Array {
  return node.bytes.subarray(node.contentStart, node.end);
}

/** The children of a constructed element, which must exactly fill it. */
export function constructedItems(node: Asn1Node | undefined, what: string): Asn1Node[] {
  if (node?.constructed !== true) throw new Asn1Error(`${what}: expected a constructed value`);
  const items: Asn1Node[] = [];
  let pos = node.contentStart;
  while (pos < node.end) {
    const child = readNode(node.bytes, pos, node.end, what);
    items.push(child);
    pos = child.end;
  }
  return items;
}

function isUniversal(node: Asn1Node | undefined, tag: number): node is Asn1Node {
  return node?.tagClass === TAG_CLASS_UNIVERSAL && node.tagNumber === tag;
}

/** The children of a SEQUENCE. */
export function sequenceItems(node: Asn1Node | undefined, what: string): Asn1Node[] {
  if (!isUniversal(node, SEQUENCE)) throw new Asn1Error(`${what}: expected a SEQUENCE`);
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

function primitive(
  node: Asn1Node | undefined,
  tag: number,
  name: string,
  what: string,
): Uint8Array {
  if (!isUniversal(node, tag) || node.constructed) {
    throw new Asn1Error(`${what}: expected a primitive ${name}`);
  }
  return contentOf(node);
}

/** The dotted form of an OBJECT IDENTIFIER. */
export function oidOf(node: Asn1Node | undefined, what: string): string {
  const bytes = primitive(node, OBJECT_IDENTIFIER, 'OID', what);
  if (bytes.length === 0) throw new Asn1Error(`${what}: empty OID`);
  const arcs: number[] = [];
  let value = 0;
  let fresh = true;
  for (const b of bytes) {
    if (fresh && b === 0x80) throw new Asn1Error(`${what}: non-minimal OID encoding`);
    value = value * 128 + (b & 0x7f);
    if (value > Number.MAX_SAFE_INTEGER) throw new Asn1Error(`${what}: OID arc too large`);
    fresh = (b & 0x80) === 0;
    if (fresh) {
      if (arcs.length === 0) {
        const x = value < 80 ? Math.floor(value / 40) : 2;
        arcs.push(x, value - 40 * x);
      } else {
        arcs.push(value);
      }
      value = 0;
    }
  }
  if (!fresh) throw new Asn1Error(`${what}: truncated OID`);
  return arcs.join('.');
}

/** The value of a BOOLEAN (DER: 0x00 or 0xFF). */
export function booleanOf(node: Asn1Node | undefined, what: string): boolean {
  const bytes = primitive(node, BOOLEAN, 'BOOLEAN', what);
  if (bytes.length !== 1 || (bytes[0] !== 0 && bytes[0] !== 0xff)) {
    throw new Asn1Error(`${what}: malformed BOOLEAN`);
  }
  return bytes[0] === 0xff;
}

/** The contents of an OCTET STRING. */
export function octetsOf(node: Asn1Node | undefined, what: string): Uint8Array {
  return primitive(node, OCTET_STRING, 'OCTET STRING', what);
}

/** The contents of an implicitly tagged primitive (such as a `[2] dNSName` or `[6] URI`). */
export function primitiveBytesOf(node: Asn1Node | undefined, what: string): Uint8Array {
  if (node === undefined || node.constructed) {
    throw new Asn1Error(`${what}: expected a primitive value`);
  }
  return contentOf(node);
}

/** A small non-negative INTEGER (up to 2^31 - 1), minimally encoded. */
export function smallIntegerOf(node: Asn1Node | undefined, what: string): number {
  const bytes = primitive(node, INTEGER, 'INTEGER', what);
  const [b0 = 0, b1 = 0] = bytes;
  if (bytes.length === 0 || (bytes.length > 1 && b0 === 0 && b1 < 0x80)) {
    throw new Asn1Error(`${what}: malformed INTEGER`);
  }
  if (b0 & 0x80 || bytes.length > 5 || (bytes.length === 5 && b0 !== 0)) {
    throw new Asn1Error(`${what}: INTEGER out of range`);
  }
  let value = 0;
  for (const b of bytes) value = value * 256 + b;
  if (value > 0x7fffffff) throw new Asn1Error(`${what}: INTEGER out of range`);
  return value;
}

/** The contents of an INTEGER (two's complement, big-endian). */
export function integerBytesOf(node: Asn1Node | undefined, what: string): Uint8Array {
  const bytes = primitive(node, INTEGER, 'INTEGER', what);
  if (bytes.length === 0) throw new Asn1Error(`${what}: empty INTEGER`);
  return bytes;
}

/** The contents of a BIT STRING that must hold whole bytes (a key or signature). */
export function bitStringBytesOf(node: Asn1Node | undefined, what: string): Uint8Array {
  const bytes = primitive(node, BIT_STRING, 'BIT STRING', what);
  if (bytes[0] !== 0) throw new Asn1Error(`${what}: BIT STRING with unused bits`);
  return bytes.subarray(1);
}

/** The bits of a BIT STRING, most significant bit of the first byte first. */
export function bitsOf(node: Asn1Node | undefined, what: string): boolean[] {
  const bytes = primitive(node, BIT_STRING, 'BIT STRING', what);
  const unused = bytes[0];
  if (unused === undefined || unused > 7 || (bytes.length === 1 && unused !== 0)) {
    throw new Asn1Error(`${what}: malformed BIT STRING`);
  }
  const bits: boolean[] = [];
  const total = (bytes.length - 1) * 8 - unused;
  for (let i = 0; i < total; i++)
    bits.push((((bytes[1 + (i >> 3)] ?? 0) >> (7 - (i & 7))) & 1) === 1);
  return bits;
}

const UTC_TIME_FORMAT = /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/;
const GENERALIZED_TIME_FORMAT = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/;

/**
 * A UTCTime or GeneralizedTime in the forms RFC 5280 §4.1.2.5 requires (seconds, `Z`, no
 * fractions), as epoch milliseconds.
 */
export function timeOf(node: Asn1Node | undefined, what: string): number {
  let match: RegExpExecArray | null = null;
  let year = 0;
  if (isUniversal(node, UTC_TIME) && !node.constructed) {
    match = UTC_TIME_FORMAT.exec(Buffer.from(contentOf(node)).toString('latin1'));
    const yy = Number(match?.[1]);
    year = yy >= 50 ? 1900 + yy : 2000 + yy;
  } else if (isUniversal(node, GENERALIZED_TIME) && !node.constructed) {
    match = GENERALIZED_TIME_FORMAT.exec(Buffer.from(contentOf(node)).toString('latin1'));
    year = Number(match?.[1]);
  }
  if (match === null) throw new Asn1Error(`${what}: expected a UTCTime or GeneralizedTime`);
  const [month, day, hour, minute, second] = match.slice(2).map(Number) as [
    number,
    number,
    number,
    number,
    number,
  ];
  const ms = Date.UTC(year, month - 1, day, hour, minute, second);
  const check = new Date(ms);
  if (
    check.getUTCFullYear() !== year ||
    check.getUTCMonth() !== month - 1 ||
    check.getUTCDate() !== day ||
    check.getUTCHours() !== hour ||
    check.getUTCMinutes() !== minute ||
    check.getUTCSeconds() !== second
  ) {
    throw new Asn1Error(`${what}: invalid date`);
  }
  return ms;
}

/** The DER encoding of `node` exactly as it appeared in the input (a view). */
export function rawOf(node: Asn1Node | undefined, what: string): Uint8Array {
  if (node === undefined) throw new Asn1Error(`${what}: missing`);
  return node.bytes.subarray(node.start, node.end);
}
