// The JWT-SVID rules, one function per stage, shared by parseAndValidateJwtSvid,
// parseInsecureJwtSvid and JwtSvidValidator. Not public API (only MAX_JWT_SVID_LENGTH is exported
// from the layer).
//
// Order: cheap structural and claim checks first, the signature last, so that junk and expired or
// misdirected tokens never cost a public-key operation.
import { isUtf8 } from 'node:buffer';
import type { KeyObject } from 'node:crypto';
import type { JwtBundle } from '../bundle/jwt-bundle.js';
import type { JwtBundleSource } from '../bundle/source.js';
import {
  InvalidArgumentError,
  InvalidJwtSvidError,
  InvalidSpiffeIdError,
  type JwtSvidFailure,
} from '../errors.js';
import { SpiffeId } from '../spiffeid/index.js';
import {
  describeKey,
  isJwtSvidAlgorithm,
  keyMismatch,
  verifyJwsSignature,
  type JwtSvidAlgorithm,
} from './jwt-svid-algorithms.js';

/**
 * The longest token accepted, in characters (64 KiB). A hardening bound, not a rule of the
 * JWT-SVID standard: SPIRE's tokens are well under 2 KiB, and nothing this large is worth a
 * base64 decode, a JSON parse and a public-key operation.
 *
 * @example
 * ```ts
 * import { MAX_JWT_SVID_LENGTH } from 'spiffe-sdk/svid';
 *
 * if (header.length > MAX_JWT_SVID_LENGTH + 7) return reply(401);
 * ```
 */
export const MAX_JWT_SVID_LENGTH = 65_536;

/** The default clock tolerance for `exp`, `nbf` and `iat`, in seconds. */
const DEFAULT_CLOCK_TOLERANCE_SECONDS = 30;

/** `Date` can represent ±8.64e15 ms; NumericDates outside that cannot become an `expiry`. */
const MAX_NUMERIC_DATE = 8.64e12;

const BASE64URL = /^[A-Za-z0-9_-]+$/;
/**
 * Three base64url parts joined by dots: the only shape a JWT-SVID may have. The signature may be
 * empty here so that an `alg: none` token is reported as a bad algorithm, not as a bad shape.
 */
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/** A token that passed every structural and claim-type rule; times and audience not yet checked. */
export interface DecodedJwtSvid {
  readonly alg: JwtSvidAlgorithm;
  readonly kid: string | undefined;
  readonly id: SpiffeId;
  /** The `aud` values, frozen. */
  readonly audience: readonly string[];
  /** NumericDates in seconds. */
  readonly exp: number;
  readonly nbf: number | undefined;
  readonly iat: number | undefined;
  /** The claims set as parsed (not yet frozen). */
  readonly claims: Record<string, unknown>;
  /** Index of the second `.`: the signing input is `token.slice(0, signingInputEnd)`. */
  readonly signingInputEnd: number;
  readonly signature: string;
}

/** The bundle key that verified a token, remembered by the validator cache. */
export interface VerifiedBy {
  readonly bundle: JwtBundle;
  readonly kid: string;
  readonly key: KeyObject;
}

/** Validation settings after their arguments were checked. */
export interface ResolvedSettings {
  readonly expected: readonly string[];
  readonly requireAll: boolean;
  readonly toleranceMs: number;
  readonly nowMs: () => number;
}

/** The options shared by every JWT-SVID validation entry point. */
export interface SettingsInput {
  readonly clockTolerance?: number | undefined;
  readonly now?: Date | (() => Date) | undefined;
  readonly requireAllAudiences?: boolean | undefined;
}

function fail(reason: JwtSvidFailure, message: string, cause?: unknown): never {
  throw new InvalidJwtSvidError(
    reason,
    `invalid JWT-SVID: ${message}`,
    cause === undefined ? undefined : { cause },
  );
}

/** A JSON rendering of an untrusted value, short enough for a message. Never the token. */
function quote(value: unknown, max = 64): string {
  let text: string;
  try {
    // JSON.stringify returns undefined for undefined, functions and symbols.
    const json = JSON.stringify(value) as string | undefined;
    text = json ?? String(value);
  } catch {
    text = typeof value;
  }
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

function quoteList(values: readonly string[]): string {
  const shown = values.slice(0, 8).map((v) => quote(v, 100));
  return `[${shown.join(', ')}${values.length > 8 ? `, … (${values.length} values)` : ''}]`;
}

/**
 * Checks the expected audience and the options; programming errors throw
 * {@link InvalidArgumentError}.
 */
export function resolveSettings(
  audience: string | readonly string[],
  options: SettingsInput | undefined,
): ResolvedSettings {
  // The common call, one audience string and no options, resolves to the same settings each time.
  if (options === undefined && typeof audience === 'string') {
    let settings = defaultSettings.get(audience);
    if (settings === undefined) {
      settings = resolveSettingsUncached(audience, undefined);
      if (defaultSettings.size >= DEFAULT_SETTINGS_ENTRIES) defaultSettings.clear();
      defaultSettings.set(audience, settings);
    }
    return settings;
  }
  return resolveSettingsUncached(audience, options);
}

const defaultSettings = new Map<string, ResolvedSettings>();
const DEFAULT_SETTINGS_ENTRIES = 64;

function resolveSettingsUncached(
  audience: string | readonly string[],
  options: SettingsInput | undefined,
): ResolvedSettings {
  const expected = resolveAudience(audience);
  const tolerance = options?.clockTolerance ?? DEFAULT_CLOCK_TOLERANCE_SECONDS;
  if (typeof tolerance !== 'number' || !Number.isFinite(tolerance) || tolerance < 0) {
    throw new InvalidArgumentError(
      `clockTolerance must be a finite number of seconds >= 0, not ${quote(tolerance)}`,
    );
  }
  return Object.freeze({
    expected,
    requireAll: options?.requireAllAudiences === true,
    toleranceMs: tolerance * 1000,
    nowMs: resolveClock(options?.now),
  });
}

/** The expected audience as a frozen, non-empty list of non-empty strings. */
export function resolveAudience(audience: string | readonly string[]): readonly string[] {
  const list: readonly unknown[] = typeof audience === 'string' ? [audience] : audience;
  if (!Array.isArray(list) || list.length === 0) {
    throw new InvalidArgumentError(
      'the expected audience must be a non-empty string or a non-empty array of them; an empty audience would accept tokens meant for anyone',
    );
  }
  for (const value of list) {
    if (typeof value !== 'string' || value.length === 0) {
      throw new InvalidArgumentError(
        `every expected audience must be a non-empty string, not ${quote(value)}`,
      );
    }
  }
  return Object.freeze([...(list as readonly string[])]);
}

function resolveClock(now: Date | (() => Date) | undefined): () => number {
  if (now === undefined) return Date.now;
  if (now instanceof Date) {
    const ms = now.getTime();
    if (Number.isNaN(ms)) throw new InvalidArgumentError('options.now is an invalid Date');
    return () => ms;
  }
  if (typeof now !== 'function') {
    throw new InvalidArgumentError('options.now must be a Date or a function returning a Date');
  }
  return () => {
    const date = now();
    const ms = date instanceof Date ? date.getTime() : NaN;
    if (Number.isNaN(ms)) {
      throw new InvalidArgumentError('options.now() must return a valid Date');
    }
    return ms;
  };
}

/**
 * Decodes one part of a compact JWS whose alphabet was already checked. The decoding itself is
 * Node's native base64url codec: jose's portable decoder goes through `atob` and a JavaScript byte
 * loop, several times slower, and this runs on every request.
 */
function decodePart(part: string, what: string): Buffer {
  // A base64url string of length 4n+1 cannot come from any byte string.
  if (part.length % 4 === 1) {
    fail('malformed', `the ${what} is not base64url: its length ${part.length} is impossible`);
  }
  return Buffer.from(part, 'base64url');
}

function decodeJsonObject(part: string, what: string): Record<string, unknown> {
  const bytes = decodePart(part, what);
  if (!isUtf8(bytes)) fail('malformed', `the ${what} is not UTF-8 (RFC 7515 §2)`);
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8'));
  } catch {
    // No cause on purpose: V8's JSON syntax errors quote the decoded input.
    fail('malformed', `the ${what} is not JSON`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    fail('malformed', `the ${what} is not a JSON object`);
  }
  return value as Record<string, unknown>;
}

function numericDate(claims: Record<string, unknown>, name: string): number | undefined {
  if (!Object.hasOwn(claims, name)) return undefined;
  const value = claims[name];
  if (typeof value !== 'number') {
    fail(
      'claim-type',
      `the "${name}" claim must be a number (RFC 7519 NumericDate), not ${quote(value)}`,
    );
  }
  if (!Number.isFinite(value) || Math.abs(value) > MAX_NUMERIC_DATE) {
    fail('claim-type', `the "${name}" claim ${quote(value)} is out of range`);
  }
  return value;
}

/** Says why `token` is not three non-empty base64url parts joined by dots. Always throws. */
function failStructure(token: string): never {
  if (token.length === 0) fail('malformed', 'the token is empty');
  if (token.trimStart().startsWith('{')) {
    fail(
      'malformed',
      'JWS JSON serialization is not allowed; JWT-SVIDs use the JWS compact serialization (JWT-SVID §1, §5.1)',
    );
  }
  const parts = token.split('.');
  if (parts.length !== 3) {
    fail(
      'malformed',
      `expected the JWS compact serialization, 3 dot-separated parts, got ${parts.length}${parts.length === 5 ? ' (a JWE? JWT-SVIDs are JWS only)' : ''}`,
    );
  }
  const names = ['JOSE header', 'JWT claims set', 'signature'];
  const bad = parts.findIndex((part, i) => !BASE64URL.test(part) && !(i === 2 && part === ''));
  const what = names[bad] ?? 'token';
  return fail(
    'malformed',
    `the ${what} is ${parts[bad] === '' ? 'empty' : 'not base64url (RFC 7515 §2: unpadded, URL-safe alphabet)'}`,
  );
}

interface CheckedHeader {
  readonly alg: JwtSvidAlgorithm;
  readonly kid: string | undefined;
}

// An issuer puts the same header on every token, so the checked result of an encoded header is
// remembered: it is a pure function of the string. Bounded in count and in key length.
const headerCache = new Map<string, CheckedHeader>();
const HEADER_CACHE_ENTRIES = 256;
const HEADER_CACHE_KEY_LENGTH = 1024;

// The header seen last, compared in place: most services see one issuer's header over and over.
let lastHeader = '';
let lastChecked: CheckedHeader | undefined;

function checkTokenHeader(token: string, end: number): CheckedHeader {
  if (lastChecked !== undefined && end === lastHeader.length && token.startsWith(lastHeader)) {
    return lastChecked;
  }
  const encoded = token.slice(0, end);
  const checked = checkHeader(encoded);
  lastHeader = encoded;
  lastChecked = checked;
  return checked;
}

function checkHeader(encoded: string): CheckedHeader {
  const cached = headerCache.get(encoded);
  if (cached !== undefined) return cached;
  const header = decodeJsonObject(encoded, 'JOSE header');
  const alg = header['alg'];
  if (alg === undefined) fail('algorithm', 'the "alg" header is missing');
  if (!isJwtSvidAlgorithm(alg)) {
    fail(
      'algorithm',
      `"alg" ${quote(alg)} is not allowed; a JWT-SVID uses RS256/384/512, ES256/384/512 or PS256/384/512 (JWT-SVID §2.1)`,
    );
  }
  if (Object.hasOwn(header, 'typ')) {
    const typ = header['typ'];
    if (typ !== 'JWT' && typ !== 'JOSE') {
      fail(
        'type',
        `"typ" ${quote(typ)} is not allowed; it must be absent, "JWT" or "JOSE" (JWT-SVID §2.3)`,
      );
    }
  }
  if (Object.hasOwn(header, 'crit')) {
    fail(
      'critical-header',
      'the "crit" header is not allowed: JWT-SVID §2 permits only "alg", "kid" and "typ", and no JWS extension is understood',
    );
  }
  let kid: string | undefined;
  if (Object.hasOwn(header, 'kid')) {
    const value = header['kid'];
    if (typeof value !== 'string' || value.length === 0) {
      fail('malformed', `the "kid" header must be a non-empty string, not ${quote(value)}`);
    }
    kid = value;
  }
  const checked: CheckedHeader = Object.freeze({ alg, kid });
  if (encoded.length <= HEADER_CACHE_KEY_LENGTH) {
    if (headerCache.size >= HEADER_CACHE_ENTRIES) headerCache.clear();
    headerCache.set(encoded, checked);
  }
  return checked;
}

// Callers repeat, so parsed subjects are remembered too (SpiffeId values are immutable).
const subjectCache = new Map<string, SpiffeId>();
const SUBJECT_CACHE_ENTRIES = 1024;

function parseSubject(sub: string): SpiffeId {
  let id = subjectCache.get(sub);
  if (id !== undefined) return id;
  try {
    id = SpiffeId.parse(sub);
  } catch (err) {
    const rule = err instanceof InvalidSpiffeIdError ? ` (${err.rule})` : '';
    return fail(
      'subject',
      `the "sub" claim ${quote(sub, 256)} is not a valid SPIFFE ID${rule}`,
      err,
    );
  }
  if (subjectCache.size >= SUBJECT_CACHE_ENTRIES) subjectCache.clear();
  subjectCache.set(sub, id);
  return id;
}

/**
 * Splits and decodes `token` and applies every rule that needs neither the clock, the expected
 * audience nor a key: size, compact serialization, header (`alg`, `typ`, `crit`, `kid`) and the
 * presence and types of `sub`, `aud`, `exp`, `nbf` and `iat`.
 */
export function decodeJwtSvid(token: unknown): DecodedJwtSvid {
  if (typeof token !== 'string') {
    fail('malformed', `the token must be a string, not ${typeof token}`);
  }
  if (token.length > MAX_JWT_SVID_LENGTH) {
    fail(
      'malformed',
      `the token is ${token.length} characters long; at most ${MAX_JWT_SVID_LENGTH} are accepted`,
    );
  }
  if (!COMPACT_JWS.test(token)) failStructure(token);
  const first = token.indexOf('.');
  const second = token.indexOf('.', first + 1);

  const { alg, kid } = checkTokenHeader(token, first);

  const claims = decodeJsonObject(token.slice(first + 1, second), 'JWT claims set');
  if (!Object.hasOwn(claims, 'sub')) {
    fail('missing-claim', 'the "sub" claim is missing (JWT-SVID §3.1)');
  }
  const sub = claims['sub'];
  if (typeof sub !== 'string') {
    fail('claim-type', `the "sub" claim must be a string, not ${quote(sub)}`);
  }
  const id = parseSubject(sub);

  if (!Object.hasOwn(claims, 'aud')) {
    fail('missing-claim', 'the "aud" claim is missing (JWT-SVID §3.2)');
  }
  const aud = claims['aud'];
  let audience: readonly string[];
  if (typeof aud === 'string') {
    audience = Object.freeze([aud]);
  } else if (Array.isArray(aud) && aud.every((v): v is string => typeof v === 'string')) {
    if (aud.length === 0) {
      fail(
        'audience',
        'the "aud" claim is an empty array; it must contain one or more values (JWT-SVID §3.2)',
      );
    }
    audience = Object.freeze([...aud]);
  } else {
    return fail(
      'claim-type',
      `the "aud" claim must be a string or an array of strings, not ${quote(aud)}`,
    );
  }

  const exp =
    numericDate(claims, 'exp') ??
    fail('missing-claim', 'the "exp" claim is missing (JWT-SVID §3.3)');
  const nbf = numericDate(claims, 'nbf');
  const iat = numericDate(claims, 'iat');

  const signature = token.slice(second + 1);
  if (signature.length === 0) fail('malformed', 'the signature is empty');
  return { alg, kid, id, audience, exp, nbf, iat, claims, signingInputEnd: second, signature };
}

/**
 * `exp` (RFC 7519 §4.1.4: now must be before it), `nbf` (§4.1.5: now must be at or after it) and
 * `iat` (not in the future), each with the clock tolerance.
 */
export function checkTimes(
  times: {
    readonly exp: number;
    readonly nbf: number | undefined;
    readonly iat: number | undefined;
  },
  nowMs: number,
  toleranceMs: number,
): void {
  if (nowMs >= times.exp * 1000 + toleranceMs) {
    fail(
      'expired',
      `the token expired at ${isoSeconds(times.exp)} (now ${new Date(nowMs).toISOString()}, tolerance ${toleranceMs / 1000}s)`,
    );
  }
  if (times.nbf !== undefined && nowMs + toleranceMs < times.nbf * 1000) {
    fail(
      'not-yet-valid',
      `the token is not valid before ${isoSeconds(times.nbf)} (now ${new Date(nowMs).toISOString()}, tolerance ${toleranceMs / 1000}s)`,
    );
  }
  if (times.iat !== undefined && nowMs + toleranceMs < times.iat * 1000) {
    fail(
      'issued-in-future',
      `the token was issued in the future, at ${isoSeconds(times.iat)} (now ${new Date(nowMs).toISOString()}, tolerance ${toleranceMs / 1000}s)`,
    );
  }
}

function isoSeconds(seconds: number): string {
  return new Date(seconds * 1000).toISOString();
}

/** JWT-SVID §3.2: the value the validator identifies with must be an `aud` element. */
export function checkAudience(
  audience: readonly string[],
  expected: readonly string[],
  requireAll: boolean,
): void {
  if (!audienceMatches(audience, expected, requireAll)) {
    const what =
      expected.length === 1
        ? 'the expected audience'
        : requireAll
          ? 'every one of the expected audiences'
          : 'any of the expected audiences';
    fail(
      'audience',
      `the "aud" claim ${quoteList(audience)} does not contain ${what} ${quoteList(expected)}`,
    );
  }
}

function audienceMatches(
  audience: readonly string[],
  expected: readonly string[],
  requireAll: boolean,
): boolean {
  // Plain loops: this runs on every request, cache hits included.
  for (const value of expected) {
    const found = audience.includes(value);
    if (found && !requireAll) return true;
    if (!found && requireAll) return false;
  }
  return requireAll;
}

/** The bundle of the subject's trust domain, the only place a JWT-SVID key may come from. */
function bundleFor(source: JwtBundleSource, decoded: DecodedJwtSvid): JwtBundle {
  const td = decoded.id.trustDomain;
  let bundle: JwtBundle;
  try {
    bundle = source.getJwtBundleForTrustDomain(td);
  } catch (err) {
    return fail('no-bundle', `no JWT bundle for trust domain "${td.name}" of the subject`, err);
  }
  if (!bundle.trustDomain.equals(td)) {
    fail(
      'no-bundle',
      `the bundle source returned the bundle of "${bundle.trustDomain.name}" for trust domain "${td.name}"`,
    );
  }
  return bundle;
}

/**
 * Verifies the signature with a key of the subject's trust domain. With a `kid`, exactly that key;
 * without one (the `kid` header is optional, JWT-SVID §2.2), every key of the bundle whose type
 * fits `alg`, in bundle order, until one verifies.
 */
export async function verifyJwtSvid(
  token: string,
  decoded: DecodedJwtSvid,
  source: JwtBundleSource,
): Promise<VerifiedBy> {
  const bundle = bundleFor(source, decoded);
  const td = decoded.id.trustDomain.name;
  const { alg, kid } = decoded;

  if (kid !== undefined) {
    const key = bundle.findAuthority(kid);
    if (key === undefined) {
      fail(
        'unknown-key',
        `no JWT authority with "kid" ${quote(kid)} in the bundle of trust domain "${td}"`,
      );
    }
    const mismatch = keyMismatch(alg, key);
    if (mismatch !== undefined) {
      fail(
        'algorithm',
        `"alg" ${alg} does not fit JWT authority ${quote(kid)} of trust domain "${td}" (${describeKey(key)}): ${mismatch}`,
      );
    }
    let ok: boolean;
    try {
      ok = await verifyJwsSignature(token, alg, key);
    } catch (err) {
      return fail(
        'signature',
        `the signature does not verify with JWT authority ${quote(kid)}`,
        err,
      );
    }
    if (!ok)
      fail(
        'signature',
        `the signature does not verify with JWT authority ${quote(kid)} of trust domain "${td}"`,
      );
    return { bundle, kid, key };
  }

  let tried = 0;
  for (const [candidateKid, key] of bundle.jwtAuthorities) {
    if (keyMismatch(alg, key) !== undefined) continue;
    tried++;
    let ok = false;
    try {
      ok = await verifyJwsSignature(token, alg, key);
    } catch {
      ok = false;
    }
    if (ok) return { bundle, kid: candidateKid, key };
  }
  if (tried === 0) {
    fail(
      'unknown-key',
      `the token has no "kid" and no JWT authority of trust domain "${td}" can verify ${alg} signatures`,
    );
  }
  return fail(
    'signature',
    `the token has no "kid" and its signature verifies with none of the ${tried} ${alg}-capable JWT authorities of trust domain "${td}"`,
  );
}

/** Freezes a parsed JSON value and everything in it, without recursion (JSON may nest deeply). */
export function deepFreeze<T>(value: T): T {
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const item = stack.pop();
    if (typeof item !== 'object' || item === null || Object.isFrozen(item)) continue;
    Object.freeze(item);
    for (const child of Object.values(item)) {
      if (typeof child === 'object' && child !== null) stack.push(child);
    }
  }
  return value;
}
