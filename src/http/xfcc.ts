import { InvalidArgumentError, XfccError, type XfccFailure } from '../errors.js';

/**
 * The longest `x-forwarded-client-cert` value {@link parseXfcc} reads, in characters. A proxy
 * that also forwards `Cert` and `Chain` adds a few kilobytes per hop; Node's own default limit
 * for all request headers together is 16 KiB.
 *
 * @example
 * ```ts
 * if (value.length > MAX_XFCC_LENGTH) reject();
 * ```
 */
export const MAX_XFCC_LENGTH = 65_536;

/**
 * The most elements (one per proxy hop) {@link parseXfcc} accepts in one header.
 *
 * @example
 * ```ts
 * parseXfcc(Array(MAX_XFCC_ELEMENTS + 1).fill('URI=a').join(',')); // throws, too-large
 * ```
 */
export const MAX_XFCC_ELEMENTS = 32;

/**
 * The most key-value pairs {@link parseXfcc} accepts in one element.
 *
 * @example
 * ```ts
 * parseXfcc(Array(MAX_XFCC_PAIRS + 1).fill('DNS=a').join(';')); // throws, too-large
 * ```
 */
export const MAX_XFCC_PAIRS = 128;

/**
 * One element of an `x-forwarded-client-cert` header: what one proxy says about the client
 * certificate of the connection it received the request on. Values are as the proxy wrote them
 * (after removing quotes and backslash escapes); nothing is decoded or validated here.
 *
 * @example
 * ```ts
 * const [element] = parseXfcc('By=spiffe://example.org/sidecar;URI=spiffe://example.org/web');
 * element.by;  // ['spiffe://example.org/sidecar']
 * element.uri; // ['spiffe://example.org/web']
 * ```
 */
export interface XfccElement {
  /** `By`: the URI SANs of the proxy's own certificate (in Istio, the sidecar's SPIFFE ID). */
  readonly by: readonly string[];
  /** `Hash`: the hex SHA-256 digest of the client certificate. */
  readonly hash?: string;
  /** `Cert`: the client certificate, URL-encoded PEM. */
  readonly cert?: string;
  /** `Chain`: the client certificate chain, leaf first, URL-encoded PEM. */
  readonly chain?: string;
  /** `Subject`: the client certificate's subject (RFC 2253 form, with its escapes removed). */
  readonly subject?: string;
  /** `URI`: the URI SANs of the client certificate (`['']` when the proxy wrote `URI=`). */
  readonly uri: readonly string[];
  /** `DNS`: the DNS SANs of the client certificate. */
  readonly dns: readonly string[];
}

type Single = 'hash' | 'cert' | 'chain' | 'subject';
type Multi = 'by' | 'uri' | 'dns';

interface KeyInfo {
  readonly name: string;
  readonly field: Single | Multi;
  readonly repeats: boolean;
}

// Envoy's keys, matched case-insensitively (Envoy: "The keys are case-insensitive"), in the order
// Envoy writes them. An unknown key (for example the pre-1.6 `SAN`) is refused rather than
// skipped: the set is documented and closed, and a header we only partly understand is not one to
// take an identity from.
const KEYS: readonly KeyInfo[] = [
  { name: 'By', field: 'by', repeats: true },
  { name: 'Hash', field: 'hash', repeats: false },
  { name: 'Cert', field: 'cert', repeats: false },
  { name: 'Chain', field: 'chain', repeats: false },
  { name: 'Subject', field: 'subject', repeats: false },
  { name: 'URI', field: 'uri', repeats: true },
  { name: 'DNS', field: 'dns', repeats: true },
];
const KEY_BY_LOWER = new Map(KEYS.map((k) => [k.name.toLowerCase(), k]));

const TAB = 0x09;
const SPACE = 0x20;
const QUOTE = 0x22;
const COMMA = 0x2c;
const SEMICOLON = 0x3b;
const EQUALS = 0x3d;
const BACKSLASH = 0x5c;

function isLetter(c: number): boolean {
  return (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
}

/**
 * Unquoted values: visible ASCII except `"`, `,` and `;`. `=` is tolerated although Envoy's
 * documentation asks for quotes around it, because Envoy itself writes `By` and `URI` values
 * unquoted whatever they contain; the key already ended at the first `=`, so it is unambiguous.
 */
function isUnquotedChar(c: number): boolean {
  return c > SPACE && c < 0x7f && c !== QUOTE && c !== COMMA && c !== SEMICOLON;
}

/** Inside quotes: tab, space, visible ASCII and obs-text (RFC 9110 `qdtext`), no controls. */
function isQuotedChar(c: number): boolean {
  return c === TAB || (c >= SPACE && c !== 0x7f && c <= 0xff);
}

function describeChar(s: string, index: number): string {
  if (index >= s.length) return 'the end of the header';
  const code = s.charCodeAt(index);
  const hex = `U+${code.toString(16).toUpperCase().padStart(4, '0')}`;
  return code > SPACE && code < 0x7f
    ? `'${s[index] ?? ''}' (${hex}) at index ${index}`
    : `${hex} at index ${index}`;
}

function fail(reason: XfccFailure, message: string): never {
  throw new XfccError(reason, `invalid x-forwarded-client-cert header: ${message}`);
}

interface Draft {
  by: string[];
  uri: string[];
  dns: string[];
  hash?: string;
  cert?: string;
  chain?: string;
  subject?: string;
}

function freezeElement(d: Draft): XfccElement {
  const element: { -readonly [K in keyof XfccElement]: XfccElement[K] } = {
    by: Object.freeze(d.by),
    uri: Object.freeze(d.uri),
    dns: Object.freeze(d.dns),
  };
  if (d.hash !== undefined) element.hash = d.hash;
  if (d.cert !== undefined) element.cert = d.cert;
  if (d.chain !== undefined) element.chain = d.chain;
  if (d.subject !== undefined) element.subject = d.subject;
  return Object.freeze(element);
}

/** Reads the quoted value whose opening quote is at `start`; returns it and the index after it. */
function readQuoted(s: string, start: number): [string, number] {
  let out = '';
  let from = start + 1;
  for (let i = from; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === QUOTE) return [out + s.slice(from, i), i + 1];
    if (c === BACKSLASH) {
      // A backslash escapes the next character, whatever it is (RFC 9110 quoted-pair). Envoy
      // documents only `\"`, but writes Subject in RFC 2253 form, which also uses `\\` and `\,`:
      // reading every pair as one unit is what keeps `"CN=a\\"` from swallowing the closing quote.
      const next = s.charCodeAt(i + 1);
      if (i + 1 >= s.length || !isQuotedChar(next)) {
        fail('malformed', `the backslash at index ${i} escapes ${describeChar(s, i + 1)}`);
      }
      out += s.slice(from, i) + s.charAt(i + 1);
      i += 1;
      from = i + 1;
    } else if (!isQuotedChar(c)) {
      fail('malformed', `${describeChar(s, i)} is not allowed in a quoted value`);
    }
  }
  return fail('malformed', `the quoted value opened at index ${start} is not closed`);
}

/** Parses the element starting at `start`; returns it and the index of the `,` or end after it. */
function readElement(s: string, start: number, number: number): [XfccElement, number] {
  const draft: Draft = { by: [], uri: [], dns: [] };
  let i = start;
  for (let pairs = 1; ; pairs++) {
    if (pairs > MAX_XFCC_PAIRS) {
      fail('too-large', `element ${number} has more than ${MAX_XFCC_PAIRS} key-value pairs`);
    }
    const keyStart = i;
    while (i < s.length && isLetter(s.charCodeAt(i))) i++;
    if (i === keyStart) fail('malformed', `expected a key, found ${describeChar(s, i)}`);
    if (s.charCodeAt(i) !== EQUALS) {
      fail('malformed', `expected '=' after a key, found ${describeChar(s, i)}`);
    }
    const rawKey = s.slice(keyStart, i);
    const key = KEY_BY_LOWER.get(rawKey.toLowerCase());
    if (key === undefined) {
      fail(
        'malformed',
        `unknown key ${JSON.stringify(rawKey.slice(0, 40))} at index ${keyStart}; the keys are ${KEYS.map((k) => k.name).join(', ')}`,
      );
    }
    i++;
    let value: string;
    if (s.charCodeAt(i) === QUOTE) {
      [value, i] = readQuoted(s, i);
    } else {
      const valueStart = i;
      while (i < s.length && isUnquotedChar(s.charCodeAt(i))) i++;
      value = s.slice(valueStart, i);
    }
    if (key.repeats) {
      draft[key.field as Multi].push(value);
    } else if (draft[key.field as Single] !== undefined) {
      // Two Hash (or Cert, Chain, Subject) values in one element: which one is meant is a guess.
      fail(
        'malformed',
        `element ${number} has more than one ${key.name} (again at index ${keyStart})`,
      );
    } else {
      draft[key.field as Single] = value;
    }
    if (i === s.length || s.charCodeAt(i) === COMMA) return [freezeElement(draft), i];
    if (s.charCodeAt(i) !== SEMICOLON) {
      fail(
        'malformed',
        `expected ';', ',' or the end after the ${key.name} value, found ${describeChar(s, i)}`,
      );
    }
    i++;
  }
}

/**
 * Parses an `x-forwarded-client-cert` header value in Envoy's format, strictly: elements
 * separated by `,`, each a `;`-separated list of `key=value` pairs, keys `By`, `Hash`, `Cert`,
 * `Chain`, `Subject`, `URI` and `DNS` (any case; `By`, `URI` and `DNS` may repeat, the others may
 * not), values either unquoted (visible ASCII except `"`, `,`, `;`) or double-quoted (where `\`
 * escapes the next character). No whitespace is allowed outside quotes, no element or pair may be
 * empty, and the work is bounded by {@link MAX_XFCC_LENGTH}, {@link MAX_XFCC_ELEMENTS} and
 * {@link MAX_XFCC_PAIRS}. Anything else throws {@link XfccError} (`malformed` or `too-large`).
 *
 * Parsing says nothing about who wrote the header: anyone who can reach the application can send
 * one. To take a peer identity from it, use {@link createXfccPeerIdReader}.
 *
 * @example
 * ```ts
 * const elements = parseXfcc(
 *   'By=spiffe://example.org/sidecar;Hash=4f2e…;Subject="";URI=spiffe://example.org/web',
 * );
 * elements.at(-1)?.uri; // ['spiffe://example.org/web']
 * ```
 */
export function parseXfcc(value: string): readonly XfccElement[] {
  if (typeof value !== 'string') {
    throw new InvalidArgumentError('parseXfcc expects the header value as a string');
  }
  if (value.length === 0) fail('malformed', 'the value is empty');
  if (value.length > MAX_XFCC_LENGTH) {
    fail(
      'too-large',
      `the value is ${value.length} characters long; at most ${MAX_XFCC_LENGTH} are read`,
    );
  }
  const elements: XfccElement[] = [];
  let i = 0;
  for (;;) {
    if (elements.length === MAX_XFCC_ELEMENTS) {
      fail('too-large', `the header has more than ${MAX_XFCC_ELEMENTS} elements`);
    }
    const [element, end] = readElement(value, i, elements.length + 1);
    elements.push(element);
    if (end === value.length) return Object.freeze(elements);
    i = end + 1;
  }
}

const SAFE_UNQUOTED = /^[\x21\x23-\x2b\x2d-\x3a\x3c\x3e-\x5b\x5d-\x7e]*$/;
const QUOTABLE = /^[\t\x20-\x7e\x80-\xff]*$/;

function formatValue(value: unknown, key: string): string {
  if (typeof value !== 'string') {
    throw new InvalidArgumentError(`formatXfcc: the ${key} value must be a string`);
  }
  if (SAFE_UNQUOTED.test(value)) return value;
  if (!QUOTABLE.test(value)) {
    throw new InvalidArgumentError(
      `formatXfcc: the ${key} value contains a character that cannot appear in a header`,
    );
  }
  return `"${value.replace(/[\\"]/g, '\\$&')}"`;
}

/**
 * Writes elements in Envoy's `x-forwarded-client-cert` format, keys in Envoy's order, quoting a
 * value only when it contains a character that needs it (`"`, `,`, `;`, `=`, `\`, space or tab).
 * The inverse of {@link parseXfcc}; handy for tests that play the proxy. Throws
 * {@link InvalidArgumentError} for an empty list, an element without any value, or a value with
 * a control character or a character above U+00FF.
 *
 * @example
 * ```ts
 * formatXfcc([{ by: ['spiffe://example.org/sidecar'], uri: ['spiffe://example.org/web'], dns: [] }]);
 * // 'By=spiffe://example.org/sidecar;URI=spiffe://example.org/web'
 * ```
 */
export function formatXfcc(elements: readonly XfccElement[]): string {
  if (!Array.isArray(elements) || elements.length === 0) {
    throw new InvalidArgumentError('formatXfcc expects a non-empty array of elements');
  }
  return elements
    .map((element: XfccElement) => {
      const pairs: string[] = [];
      for (const key of KEYS) {
        const value: unknown = element[key.field];
        if (key.repeats && !Array.isArray(value)) {
          throw new InvalidArgumentError(`formatXfcc: ${key.field} must be an array of strings`);
        }
        const values: readonly unknown[] = key.repeats
          ? (value as readonly unknown[])
          : value === undefined
            ? []
            : [value];
        for (const v of values) pairs.push(`${key.name}=${formatValue(v, key.name)}`);
      }
      if (pairs.length === 0) {
        throw new InvalidArgumentError('formatXfcc: an element needs at least one value');
      }
      return pairs.join(';');
    })
    .join(',');
}
