import { InvalidArgumentError } from '../errors.js';

/** How much of a rejected input an error message quotes; the error's `input` keeps as much. */
const QUOTE_LIMIT = 256;

/**
 * The input as it appears in error messages: JSON-quoted, so control characters, line breaks and
 * lone surrogates are escaped and cannot forge log lines, and cut after `QUOTE_LIMIT`
 * characters so that oversized input does not flood logs.
 */
export function quoteInput(s: string): string {
  return s.length > QUOTE_LIMIT
    ? `${JSON.stringify(s.slice(0, QUOTE_LIMIT))}… (${s.length} characters)`
    : JSON.stringify(s);
}

/** A readable, unambiguous rendering of the character at `index` for error messages. */
export function describeChar(s: string, index: number): string {
  const code = s.charCodeAt(index);
  const hex = `U+${code.toString(16).toUpperCase().padStart(4, '0')}`;
  return code > 0x20 && code < 0x7f ? `'${String.fromCharCode(code)}' (${hex})` : hex;
}

/**
 * TypeScript callers cannot pass a non-string, but JavaScript callers (and values taken from
 * parsed JSON) can; without this check a number or `undefined` would surface as a `TypeError`.
 */
export function requireString(value: unknown, what: string): asserts value is string {
  if (typeof value !== 'string') {
    throw new InvalidArgumentError(
      `expected ${what} as a string, got ${value === null ? 'null' : typeof value}`,
    );
  }
}

/**
 * Why a character is most likely there, for the common mistakes: the generic "not allowed" alone
 * does not tell a user that `:8443` is a port or that `%2F` is percent-encoding.
 */
export function charHint(code: number, inTrustDomain: boolean): string {
  switch (code) {
    case 0x3a: // ':'
      return inTrustDomain ? ' (no port, and no ":" delimiter)' : '';
    case 0x40: // '@'
      return inTrustDomain ? ' (userinfo is not allowed)' : '';
    case 0x5b: // '['
    case 0x5d: // ']'
      return inTrustDomain ? ' (IP literals are not allowed)' : '';
    case 0x3f: // '?'
      return ' (a SPIFFE ID has no query)';
    case 0x23: // '#'
      return ' (a SPIFFE ID has no fragment)';
    case 0x25: // '%'
      return ' (percent-encoding is not allowed)';
    default:
      if (inTrustDomain && code >= 0x41 && code <= 0x5a) return ' (upper case is not allowed)';
      if (code > 0x7f) return ' (only ASCII is allowed)';
      return '';
  }
}
