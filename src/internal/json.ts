/**
 * A small, strict RFC 8259 JSON parser for untrusted documents (SPIFFE bundles, JWKS, bundle maps).
 *
 * Why not `JSON.parse`: it silently keeps the last of duplicate object keys (so two parsers can
 * read one document differently), it rounds integers above 2^53 (a `spiffe_sequence` is a 64-bit
 * unsigned integer), and it has no bound on nesting depth or input size. This parser:
 * - accepts exactly the RFC 8259 grammar (the same texts as `JSON.parse`), apart from the rules below;
 * - rejects duplicate object member names;
 * - returns integer literals outside the safe range as exact `bigint`s (and, on request, every
 *   integer literal as a `bigint`), and refuses integer literals of more than
 *   {@link MAX_INTEGER_LITERAL_LENGTH} characters, whose conversion would cost more than linear time;
 * - bounds the nesting depth and the input size;
 * - is iterative (no recursion, so no stack overflow) and linear in the input length;
 * - builds objects with a `null` prototype, so member names such as `__proto__` or `constructor`
 *   are plain data and never reach `Object.prototype`.
 *
 * It throws {@link JsonParseError}, a plain error that callers wrap into their layer's SpiffeError.
 */

/** A parsed JSON value. Objects have a `null` prototype. */
export type JsonValue = null | boolean | number | bigint | string | JsonValue[] | JsonObject;

/** A parsed JSON object (`null` prototype; no duplicate member names). */
export interface JsonObject {
  [name: string]: JsonValue | undefined;
}

/** Why a document was rejected. Only `'syntax'` errors are also errors for `JSON.parse`. */
export type JsonParseFailure =
  'syntax' | 'duplicate-key' | 'depth' | 'size' | 'integer-too-long' | 'encoding';

/** A document is not valid JSON, or breaks one of this parser's bounds. */
export class JsonParseError extends Error {
  /** Which rule failed. */
  readonly reason: JsonParseFailure;
  /** Offset (in UTF-16 code units of the decoded text) where the problem was found, or -1. */
  readonly position: number;

  constructor(reason: JsonParseFailure, message: string, position: number) {
    super(position >= 0 ? `${message} at position ${position}` : message);
    this.name = 'JsonParseError';
    this.reason = reason;
    this.position = position;
  }
}

/** Default maximum nesting depth of arrays and objects. */
export const DEFAULT_MAX_DEPTH = 64;
/** Default maximum input size: bytes for byte input, UTF-16 code units for string input. */
export const DEFAULT_MAX_LENGTH = 8 * 1024 * 1024;
/**
 * Longest integer literal (sign included) that is converted to a `bigint`. `BigInt()` of a decimal
 * string costs more than linear time, so longer literals outside the safe range are refused.
 */
export const MAX_INTEGER_LITERAL_LENGTH = 1000;

/** Options of {@link parseJson}. */
export interface JsonParseOptions {
  /** Maximum nesting depth of arrays and objects (default {@link DEFAULT_MAX_DEPTH}). */
  readonly maxDepth?: number;
  /** Maximum input size (default {@link DEFAULT_MAX_LENGTH}). */
  readonly maxLength?: number;
  /**
   * `'unsafe'` (default): integer literals outside `Number.MIN_SAFE_INTEGER..MAX_SAFE_INTEGER`
   * become `bigint`, everything else `number`. `'all'`: every integer literal (no fraction, no
   * exponent) becomes a `bigint`, so callers can tell `1` from `1.0` and `1e0`.
   */
  readonly bigints?: 'unsafe' | 'all';
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const SLASH = 0x2f;
const COMMA = 0x2c;
const COLON = 0x3a;
const LBRACKET = 0x5b;
const RBRACKET = 0x5d;
const LBRACE = 0x7b;
const RBRACE = 0x7d;
const MINUS = 0x2d;
const PLUS = 0x2b;
const DOT = 0x2e;
const ZERO = 0x30;
const NINE = 0x39;

const UTF8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Decodes UTF-8 bytes strictly (malformed sequences are an error; a leading byte order mark is
 * dropped, which RFC 8259 §8.1 allows parsers to do).
 */
export function decodeUtf8(bytes: Uint8Array): string {
  try {
    return UTF8.decode(bytes);
  } catch {
    throw new JsonParseError('encoding', 'the document is not valid UTF-8', -1);
  }
}

/**
 * Parses a JSON text, or UTF-8 JSON bytes, with the rules and bounds described in this module.
 * The size bound is checked before anything else (before decoding, for bytes).
 */
export function parseJson(input: string | Uint8Array, options: JsonParseOptions = {}): JsonValue {
  const maxLength = options.maxLength ?? DEFAULT_MAX_LENGTH;
  if (input.length > maxLength) {
    throw new JsonParseError(
      'size',
      `the document is ${input.length} ${typeof input === 'string' ? 'characters' : 'bytes'} long; the limit is ${maxLength}`,
      -1,
    );
  }
  const text = typeof input === 'string' ? input : decodeUtf8(input);
  return new Parser(text, options.maxDepth ?? DEFAULT_MAX_DEPTH, options.bigints ?? 'unsafe').run();
}

interface ArrayFrame {
  readonly kind: 'array';
  readonly value: JsonValue[];
}
interface ObjectFrame {
  readonly kind: 'object';
  readonly value: JsonObject;
  key: string;
}
type Frame = ArrayFrame | ObjectFrame;

function describe(code: number): string {
  if (Number.isNaN(code)) return 'end of input';
  if (code < 0x20 || code === 0x7f)
    return `control character U+${code.toString(16).padStart(4, '0')}`;
  return `character ${JSON.stringify(String.fromCharCode(code))}`;
}

function isDigit(code: number): boolean {
  return code >= ZERO && code <= NINE;
}

class Parser {
  private pos = 0;

  constructor(
    private readonly text: string,
    private readonly maxDepth: number,
    private readonly bigints: 'unsafe' | 'all',
  ) {}

  private fail(message: string, position = this.pos): never {
    throw new JsonParseError('syntax', message, position);
  }

  private unexpected(expected: string): never {
    this.fail(`expected ${expected} but found ${describe(this.text.charCodeAt(this.pos))}`);
  }

  private skipWhitespace(): void {
    const text = this.text;
    let pos = this.pos;
    for (;;) {
      const c = text.charCodeAt(pos);
      // RFC 8259 §2: space, horizontal tab, line feed, carriage return.
      if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) pos++;
      else break;
    }
    this.pos = pos;
  }

  run(): JsonValue {
    const stack: Frame[] = [];
    let value: JsonValue;
    parse: for (;;) {
      // A value starts here.
      this.skipWhitespace();
      const c = this.text.charCodeAt(this.pos);
      if (c === LBRACE || c === LBRACKET) {
        if (stack.length >= this.maxDepth) {
          throw new JsonParseError(
            'depth',
            `nesting deeper than ${this.maxDepth} levels`,
            this.pos,
          );
        }
        this.pos++;
        this.skipWhitespace();
        if (c === LBRACKET) {
          if (this.text.charCodeAt(this.pos) === RBRACKET) {
            this.pos++;
            value = [];
          } else {
            stack.push({ kind: 'array', value: [] });
            continue parse;
          }
        } else if (this.text.charCodeAt(this.pos) === RBRACE) {
          this.pos++;
          value = Object.create(null) as JsonObject;
        } else {
          const frame: ObjectFrame = {
            kind: 'object',
            value: Object.create(null) as JsonObject,
            key: '',
          };
          frame.key = this.memberName(frame.value);
          stack.push(frame);
          continue parse;
        }
      } else if (c === QUOTE) {
        value = this.string();
      } else if (c === MINUS || isDigit(c)) {
        value = this.number();
      } else if (this.text.startsWith('true', this.pos)) {
        this.pos += 4;
        value = true;
      } else if (this.text.startsWith('false', this.pos)) {
        this.pos += 5;
        value = false;
      } else if (this.text.startsWith('null', this.pos)) {
        this.pos += 4;
        value = null;
      } else {
        this.unexpected('a JSON value');
      }

      // A value is complete: store it in its container and close every container that ends here.
      for (;;) {
        const frame = stack.at(-1);
        if (frame === undefined) break parse;
        if (frame.kind === 'array') frame.value.push(value);
        else frame.value[frame.key] = value;
        this.skipWhitespace();
        const next = this.text.charCodeAt(this.pos);
        if (next === COMMA) {
          this.pos++;
          if (frame.kind === 'object') {
            this.skipWhitespace();
            frame.key = this.memberName(frame.value);
          }
          continue parse;
        }
        if (next === (frame.kind === 'array' ? RBRACKET : RBRACE)) {
          this.pos++;
          stack.pop();
          value = frame.value;
          continue;
        }
        this.unexpected(frame.kind === 'array' ? '"," or "]"' : '"," or "}"');
      }
    }
    this.skipWhitespace();
    if (this.pos !== this.text.length) this.unexpected('the end of the document');
    return value;
  }

  /** Reads `"name" :` and checks that the name is new in `object`. */
  private memberName(object: JsonObject): string {
    if (this.text.charCodeAt(this.pos) !== QUOTE) this.unexpected('a member name string');
    const start = this.pos;
    const name = this.string();
    if (Object.hasOwn(object, name)) {
      throw new JsonParseError(
        'duplicate-key',
        `duplicate member name ${JSON.stringify(name.length > 64 ? `${name.slice(0, 64)}…` : name)}`,
        start,
      );
    }
    this.skipWhitespace();
    if (this.text.charCodeAt(this.pos) !== COLON) this.unexpected('":"');
    this.pos++;
    return name;
  }

  /** Reads a string starting at the opening quote. */
  private string(): string {
    const text = this.text;
    let pos = this.pos + 1;
    let runStart = pos;
    let out = '';
    for (;;) {
      const c = text.charCodeAt(pos);
      if (c === QUOTE) {
        out += text.slice(runStart, pos);
        this.pos = pos + 1;
        return out;
      }
      if (c === BACKSLASH) {
        out += text.slice(runStart, pos);
        const e = text.charCodeAt(pos + 1);
        switch (e) {
          case QUOTE:
            out += '"';
            break;
          case BACKSLASH:
            out += '\\';
            break;
          case SLASH:
            out += '/';
            break;
          case 0x62: // b
            out += '\b';
            break;
          case 0x66: // f
            out += '\f';
            break;
          case 0x6e: // n
            out += '\n';
            break;
          case 0x72: // r
            out += '\r';
            break;
          case 0x74: // t
            out += '\t';
            break;
          case 0x75: {
            // u: exactly four hex digits. Lone surrogates are kept, as JSON.parse does.
            const hex = text.slice(pos + 2, pos + 6);
            if (!/^[0-9A-Fa-f]{4}$/.test(hex)) this.fail('invalid \\u escape', pos);
            out += String.fromCharCode(parseInt(hex, 16));
            pos += 4;
            break;
          }
          default:
            this.fail(`invalid escape ${describe(e)}`, pos);
        }
        pos += 2;
        runStart = pos;
        continue;
      }
      if (Number.isNaN(c)) this.fail('unterminated string', this.pos);
      if (c < 0x20) this.fail(`unescaped ${describe(c)} in a string`, pos);
      pos++;
    }
  }

  /** Reads a number: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`. */
  private number(): number | bigint {
    const text = this.text;
    const start = this.pos;
    let pos = start;
    if (text.charCodeAt(pos) === MINUS) pos++;
    const first = text.charCodeAt(pos);
    if (first === ZERO) {
      pos++;
      if (isDigit(text.charCodeAt(pos))) this.fail('a number must not have leading zeros', pos);
    } else if (isDigit(first)) while (isDigit(text.charCodeAt(pos))) pos++;
    else this.fail('a digit must follow "-"', pos);
    let integer = true;
    if (text.charCodeAt(pos) === DOT) {
      integer = false;
      pos++;
      if (!isDigit(text.charCodeAt(pos))) this.fail('a digit must follow "."', pos);
      while (isDigit(text.charCodeAt(pos))) pos++;
    }
    const e = text.charCodeAt(pos);
    if (e === 0x65 || e === 0x45) {
      integer = false;
      pos++;
      const sign = text.charCodeAt(pos);
      if (sign === PLUS || sign === MINUS) pos++;
      if (!isDigit(text.charCodeAt(pos))) this.fail('a digit must follow the exponent', pos);
      while (isDigit(text.charCodeAt(pos))) pos++;
    }
    this.pos = pos;
    const literal = text.slice(start, pos);
    const n = Number(literal);
    if (!integer || (this.bigints === 'unsafe' && Number.isSafeInteger(n))) return n;
    // Outside the safe range a double is no longer exact, so keep the integer as a bigint.
    if (literal.length > MAX_INTEGER_LITERAL_LENGTH) {
      throw new JsonParseError(
        'integer-too-long',
        `integer literal of ${literal.length} characters (limit ${MAX_INTEGER_LITERAL_LENGTH})`,
        start,
      );
    }
    return BigInt(literal);
  }
}
