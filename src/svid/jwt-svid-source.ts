import type { SpiffeId } from '../spiffeid/index.js';
import type { JwtSvid } from './jwt-svid.js';

/**
 * What to ask for when fetching a JWT-SVID (go-spiffe's `jwtsvid.Params`).
 *
 * @example
 * ```ts
 * const params: JwtSvidParams = { audience: 'spiffe://example.org/reports' };
 * ```
 */
export interface JwtSvidParams {
  /** The audience the token is for. Required and non-empty. */
  readonly audience: string;
  /**
   * More audiences. Every audience can replay the token to every other one (JWT-SVID §7.2), so
   * prefer a single audience.
   */
  readonly extraAudiences?: readonly string[];
  /** Which of the workload's identities to use; default: the Workload API's first (default) one. */
  readonly subject?: SpiffeId;
}

/**
 * Anything that can hand out JWT-SVIDs for this workload: a Workload API client or source, or a
 * test double. Implementations reject with a `SpiffeError` subclass on failure and honour
 * `options.signal`.
 *
 * @example
 * ```ts
 * async function callReports(source: JwtSvidSource): Promise<Response> {
 *   const svid = await source.fetchJwtSvid({ audience: 'spiffe://example.org/reports' });
 *   return fetch('https://reports.internal/', {
 *     headers: { authorization: `Bearer ${svid.marshal()}` },
 *   });
 * }
 * ```
 */
export interface JwtSvidSource {
  /**
   * A JWT-SVID for `params.audience` (and `params.extraAudiences`), for `params.subject` or the
   * default identity.
   *
   * @example
   * ```ts
   * const svid = await source.fetchJwtSvid({ audience: 'db' }, { signal: AbortSignal.timeout(5000) });
   * ```
   */
  fetchJwtSvid(
    params: JwtSvidParams,
    options?: { readonly signal?: AbortSignal },
  ): Promise<JwtSvid>;
}
