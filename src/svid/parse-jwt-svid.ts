import type { JwtBundleSource } from '../bundle/source.js';
import {
  checkAudience,
  checkTimes,
  decodeJwtSvid,
  resolveSettings,
  verifyJwtSvid,
  type DecodedJwtSvid,
  type ResolvedSettings,
} from './jwt-svid-checks.js';
import { JwtSvid } from './jwt-svid.js';

/**
 * Options of {@link parseAndValidateJwtSvid} and {@link parseInsecureJwtSvid}.
 *
 * @example
 * ```ts
 * const options: JwtSvidValidationOptions = { clockTolerance: 5, requireAllAudiences: true };
 * ```
 */
export interface JwtSvidValidationOptions {
  /**
   * Allowed clock skew in seconds for `exp`, `nbf` and `iat`. Default 30. Must be a finite number
   * >= 0, or {@link InvalidArgumentError} is thrown.
   */
  readonly clockTolerance?: number;
  /** The current time (a fixed `Date` or a clock function); for tests. Default: `Date.now()`. */
  readonly now?: Date | (() => Date);
  /**
   * With several expected audiences: `false` (default) accepts a token whose `aud` contains ANY of
   * them; `true` requires ALL of them.
   */
  readonly requireAllAudiences?: boolean;
}

/** Applies the clock and audience rules, then freezes the claims into a {@link JwtSvid}. */
export function finishJwtSvid(token: string, decoded: DecodedJwtSvid): JwtSvid {
  return JwtSvid.fromChecked(
    decoded.id,
    decoded.audience,
    decoded.exp * 1000,
    decoded.claims,
    token,
  );
}

/** A promise rejected with `err` (which is always an Error here). */
export function rejected(err: unknown): Promise<never> {
  return Promise.reject(err instanceof Error ? err : new Error(String(err)));
}

/** The audience and clock rules. */
export function checkClaims(decoded: DecodedJwtSvid, settings: ResolvedSettings): void {
  checkAudience(decoded.audience, settings.expected, settings.requireAll);
  checkTimes(decoded, settings.nowMs(), settings.toleranceMs);
}

/**
 * Parses a JWT-SVID and validates it completely: every rule of the JWT-SVID standard, the
 * expected audience, the clock, and the signature with a key from the bundle of the subject's
 * trust domain (and from nowhere else: `jwk`, `jku`, `x5c` and `x5u` headers are ignored).
 *
 * The rules, in order (each failure is an {@link InvalidJwtSvidError} whose `reason` names it):
 * - at most {@link MAX_JWT_SVID_LENGTH} characters; JWS compact serialization with exactly three
 *   base64url parts, never JSON serialization (`malformed`);
 * - `alg` one of RS256/384/512, ES256/384/512, PS256/384/512 (`algorithm`); `typ` absent, `JWT` or
 *   `JOSE` (`type`); no `crit` header (`critical-header`); `kid`, if present, a non-empty string;
 * - `sub` present (`missing-claim`), a string (`claim-type`) and a valid SPIFFE ID (`subject`);
 *   `aud` present, a string or a non-empty array of strings; `exp` present and a number; `nbf` and
 *   `iat` numbers when present;
 * - `aud` contains the expected audience (any of several, or all with
 *   `options.requireAllAudiences`) (`audience`);
 * - not expired, not before `nbf`, not issued in the future, each within `options.clockTolerance`
 *   seconds (default 30) (`expired`, `not-yet-valid`, `issued-in-future`);
 * - the subject's trust domain has a bundle in `bundleSource` (`no-bundle`);
 * - with a `kid`: that key exists (`unknown-key`), fits `alg` (`algorithm`: e.g. RS256 with an EC
 *   key, or an RSA key under 2048 bits) and verifies the signature (`signature`). Without a `kid`:
 *   some key of that bundle that fits `alg` verifies it (`unknown-key` if none fits).
 *
 * An empty expected audience (`''` or `[]`) is a programming error: {@link InvalidArgumentError}.
 * Error messages never contain the token.
 *
 * @param token The serialized token, e.g. from `Authorization: Bearer <token>`.
 * @param bundleSource Where the subject's trust domain's JWT bundle comes from.
 * @param audience The audience this validator identifies with (or several).
 * @example
 * ```ts
 * import { parseAndValidateJwtSvid, InvalidJwtSvidError } from 'spiffe-sdk/svid';
 *
 * try {
 *   const svid = await parseAndValidateJwtSvid(token, bundleSet, 'spiffe://example.org/reports');
 *   authorize(svid.id);
 * } catch (err) {
 *   if (err instanceof InvalidJwtSvidError) return reply(401, err.reason);
 *   throw err;
 * }
 * ```
 */
export function parseAndValidateJwtSvid(
  token: string,
  bundleSource: JwtBundleSource,
  audience: string | readonly string[],
  options?: JwtSvidValidationOptions,
): Promise<JwtSvid> {
  return parseAndValidate(token, bundleSource, audience, options);
}

async function parseAndValidate(
  token: string,
  bundleSource: JwtBundleSource,
  audience: string | readonly string[],
  options: JwtSvidValidationOptions | undefined,
): Promise<JwtSvid> {
  const settings = resolveSettings(audience, options);
  const decoded = decodeJwtSvid(token);
  checkClaims(decoded, settings);
  await verifyJwtSvid(token, decoded, bundleSource);
  return finishJwtSvid(token, decoded);
}

/**
 * Parses a JWT-SVID and applies every rule of {@link parseAndValidateJwtSvid} EXCEPT the
 * signature and key checks: the signature is not verified and no bundle is consulted. Use it only
 * for tokens that come from a trusted channel, such as your own Workload API.
 *
 * @example
 * ```ts
 * import { parseInsecureJwtSvid } from 'spiffe-sdk/svid';
 *
 * // A token the local Workload API just handed us for our own use:
 * const svid = await parseInsecureJwtSvid(response.svid, 'spiffe://example.org/reports');
 * svid.expiry; // when to fetch a new one
 * ```
 */
export async function parseInsecureJwtSvid(
  token: string,
  audience: string | readonly string[],
  options?: JwtSvidValidationOptions,
): Promise<JwtSvid> {
  await Promise.resolve();
  const settings = resolveSettings(audience, options);
  const decoded = decodeJwtSvid(token);
  checkClaims(decoded, settings);
  return finishJwtSvid(token, decoded);
}
