// Bearer token extraction from the Authorization request header (RFC 6750 §2.1). Internal.
import type { JwtSvidAuthError } from '../errors.js';
import { refusal } from './challenge.js';

/**
 * Request headers in any of the shapes Node and the frameworks use: Node's `req.headers` or
 * `req.headersDistinct`, a WHATWG `Headers` (of any fetch implementation), or a plain record
 * whose keys may be in any case.
 *
 * Node keeps only the FIRST of several `Authorization` headers in `req.headers`; pass
 * `req.headersDistinct` (every value, as an array) so that a request with two is refused.
 *
 * @example
 * ```ts
 * const fromNode: RequestHeaders = req.headersDistinct;
 * const fromFetch: RequestHeaders = request.headers;
 * const plain: RequestHeaders = { Authorization: `Bearer ${token}` };
 * ```
 */
export type RequestHeaders =
  | {
      /** A WHATWG `Headers`' lookup: every value of a header joined with ", ", or null. */
      get(name: string): string | null;
    }
  | Readonly<Record<string, string | readonly string[] | undefined>>;

/**
 * `credentials = "Bearer" 1*SP b64token` with `b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" /
 * "~" / "+" / "/" ) *"="` (RFC 6750 §2.1); the scheme is case-insensitive (RFC 9110 §11.1). The
 * optional whitespace around a field value is not part of it (RFC 9110 §5.5), so it is allowed
 * here for records that were not built by an HTTP parser.
 */
const BEARER = /^[ \t]*bearer +([A-Za-z0-9\-._~+/]+=*)[ \t]*$/i;
/** An auth-scheme: an RFC 9110 token. */
const SCHEME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]*/;

function isFetchHeaders(headers: RequestHeaders): headers is { get(name: string): string | null } {
  return typeof headers.get === 'function';
}

/** Every `Authorization` value in `headers`. */
function authorizationValues(headers: RequestHeaders): readonly string[] {
  if (isFetchHeaders(headers)) {
    // WHATWG Headers join repeated fields with ", ", which the grammar then refuses.
    const value = headers.get('authorization');
    return value === null ? [] : [value];
  }
  const values: string[] = [];
  for (const key of Object.keys(headers)) {
    if (key.length !== 13 || key.toLowerCase() !== 'authorization') continue;
    const value = headers[key];
    if (typeof value === 'string') values.push(value);
    else if (Array.isArray(value)) {
      for (const item of value as readonly unknown[]) {
        if (typeof item === 'string') values.push(item);
      }
    }
  }
  return values;
}

function malformed(realm: string | undefined, rule: string): JwtSvidAuthError {
  return refusal(
    'malformed',
    realm,
    `malformed Authorization header: ${rule}`,
    `malformed Authorization header: ${rule}`,
  );
}

/** `value` without leading and trailing SP and HTAB (a loop: a regex for the end is quadratic). */
function trimOws(value: string): string {
  let start = 0;
  let end = value.length;
  while (start < end && (value[start] === ' ' || value[start] === '\t')) start++;
  while (end > start && (value[end - 1] === ' ' || value[end - 1] === '\t')) end--;
  return value.slice(start, end);
}

/** Why `value`, which did not match BEARER, is refused. Never quotes the value: it may hold a token. */
function diagnose(value: string, realm: string | undefined): JwtSvidAuthError {
  const trimmed = trimOws(value);
  if (trimmed === '') return malformed(realm, 'the header is empty');
  const scheme = (SCHEME.exec(trimmed) ?? [''])[0];
  if (scheme.toLowerCase() !== 'bearer') {
    return refusal(
      'scheme',
      realm,
      'the Authorization header does not use the Bearer scheme',
      'a JWT-SVID is required as a Bearer token',
    );
  }
  const rest = trimmed.slice(scheme.length);
  if (rest === '') return malformed(realm, 'no token after the Bearer scheme');
  if (!rest.startsWith(' ')) return malformed(realm, 'the scheme must be followed by a space');
  if (rest.includes(',')) {
    return malformed(
      realm,
      'more than one credential (were several Authorization headers joined?)',
    );
  }
  return malformed(realm, 'the token has characters outside the RFC 6750 b64token set');
}

/**
 * The bearer token of a request, or a refusal: `missing` without an `Authorization` header,
 * `malformed` with several or with a `Bearer` value that breaks the grammar, `scheme` for any
 * other scheme. Throws the refusal.
 */
export function bearerToken(headers: RequestHeaders, realm: string | undefined): string {
  const values = authorizationValues(headers);
  if (values.length === 0) {
    throw refusal(
      'missing',
      realm,
      'the request has no Authorization header',
      'a JWT-SVID is required as a Bearer token',
    );
  }
  if (values.length > 1) {
    throw malformed(realm, `${values.length} Authorization headers`);
  }
  const value = values[0] ?? '';
  const match = BEARER.exec(value);
  if (match === null) throw diagnose(value, realm);
  return match[1] ?? '';
}
