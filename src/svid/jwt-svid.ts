import { inspect, type InspectOptions } from 'node:util';
import type { SpiffeId } from '../spiffeid/index.js';
import { deepFreeze } from './jwt-svid-checks.js';

/** What {@link JwtSvid} shows instead of the token in `util.inspect` output. */
const REDACTED = '[redacted]';

/**
 * A JWT-SVID (JWT-SVID standard) that passed {@link parseAndValidateJwtSvid} or
 * {@link parseInsecureJwtSvid}. Immutable: the claims are deep-frozen, {@link JwtSvid.expiry}
 * returns a fresh `Date`, and {@link JwtSvid.withHint} returns a new value.
 *
 * The token is a bearer credential, so it is kept out of `toString()`, `JSON.stringify()` and
 * `util.inspect()`; read it explicitly with {@link JwtSvid.marshal} (or {@link JwtSvid.token}) when
 * you send it.
 *
 * @example
 * ```ts
 * import { parseAndValidateJwtSvid } from 'spiffe-sdk/svid';
 *
 * const svid = await parseAndValidateJwtSvid(token, bundles, 'spiffe://example.org/reports');
 * svid.id.toString();  // 'spiffe://example.org/web'
 * svid.audience;       // ['spiffe://example.org/reports']
 * svid.expiry;         // Date
 * console.log(svid);   // JwtSvid { id: 'spiffe://example.org/web', …, token: '[redacted]' }
 * fetch(url, { headers: { authorization: `Bearer ${svid.marshal()}` } });
 * ```
 */
export class JwtSvid {
  /** The SPIFFE ID in the `sub` claim. */
  readonly id: SpiffeId;
  /** Every value of the token's `aud` claim (a single string becomes a one-element array). */
  readonly audience: readonly string[];
  /** The operator-assigned hint the Workload API sent with this SVID, or `''`. */
  readonly hint: string;
  readonly #token: string;
  readonly #expiryMs: number;
  // Deep-frozen on first read: most callers never look at the claims, and freezing costs time
  // on the hot path. Nothing else holds a reference to the object before that.
  #claims: Record<string, unknown>;
  #claimsFrozen: boolean;

  private constructor(
    id: SpiffeId,
    audience: readonly string[],
    expiryMs: number,
    claims: Record<string, unknown>,
    claimsFrozen: boolean,
    hint: string,
    token: string,
  ) {
    this.id = id;
    this.audience = audience;
    this.hint = hint;
    this.#token = token;
    this.#expiryMs = expiryMs;
    this.#claims = claims;
    this.#claimsFrozen = claimsFrozen;
    Object.freeze(this);
  }

  /**
   * @internal Builds an SVID from checked parts. `audience` must be frozen; `claims` is handed
   * over (the caller keeps no reference) and deep-frozen on first read.
   * Use {@link parseAndValidateJwtSvid} or {@link parseInsecureJwtSvid}.
   */
  static fromChecked(
    id: SpiffeId,
    audience: readonly string[],
    expiryMs: number,
    claims: Record<string, unknown>,
    token: string,
  ): JwtSvid {
    return new JwtSvid(id, audience, expiryMs, claims, false, '', token);
  }

  /**
   * The whole JWT claims set, deep-frozen. Numbers are JSON numbers (`exp` is in seconds).
   *
   * @example
   * ```ts
   * const issuer = svid.claims['iss']; // unknown
   * ```
   */
  get claims(): Readonly<Record<string, unknown>> {
    if (!this.#claimsFrozen) {
      deepFreeze(this.#claims);
      this.#claimsFrozen = true;
    }
    return this.#claims;
  }

  /**
   * When the SVID expires (the `exp` claim), as a new `Date` on every read.
   *
   * @example
   * ```ts
   * const msLeft = svid.expiry.getTime() - Date.now();
   * ```
   */
  get expiry(): Date {
    return new Date(this.#expiryMs);
  }

  /**
   * The serialized token, exactly as it was parsed. Same as {@link JwtSvid.marshal}.
   *
   * @example
   * ```ts
   * headers.set('authorization', `Bearer ${svid.token}`);
   * ```
   */
  get token(): string {
    return this.#token;
  }

  /**
   * The serialized token, exactly as it was parsed (JWS compact serialization), for sending in an
   * `Authorization: Bearer` header (JWT-SVID §5.2).
   *
   * @example
   * ```ts
   * headers.set('authorization', `Bearer ${svid.marshal()}`);
   * ```
   */
  marshal(): string {
    return this.#token;
  }

  /**
   * A new SVID with `hint` as its {@link JwtSvid.hint}.
   *
   * @example
   * ```ts
   * const tagged = svid.withHint('internal');
   * tagged.hint; // 'internal'
   * ```
   */
  withHint(hint: string): JwtSvid {
    if (hint === this.hint) return this;
    return new JwtSvid(
      this.id,
      this.audience,
      this.#expiryMs,
      this.claims,
      true,
      hint,
      this.#token,
    );
  }

  /**
   * A one-line description without the token: `JwtSvid(spiffe://example.org/web, aud=["x"], exp=…)`.
   *
   * @example
   * ```ts
   * logger.info(`caller ${svid}`);
   * ```
   */
  toString(): string {
    return `JwtSvid(${this.id.toString()}, aud=${JSON.stringify(this.audience)}, exp=${this.expiry.toISOString()})`;
  }

  /**
   * JSON form without the token: `{ id, audience, expiry, hint, claims }`.
   *
   * @example
   * ```ts
   * JSON.stringify(svid); // '{"id":"spiffe://example.org/web","audience":["x"],…}'
   * ```
   */
  toJSON(): {
    /** The SPIFFE ID, as a string. */
    id: string;
    /** The `aud` values. */
    audience: readonly string[];
    /** The expiry, as an ISO 8601 string. */
    expiry: string;
    /** The hint, or `''`. */
    hint: string;
    /** The claims set. */
    claims: Readonly<Record<string, unknown>>;
  } {
    return {
      id: this.id.toString(),
      audience: this.audience,
      expiry: this.expiry.toISOString(),
      hint: this.hint,
      claims: this.claims,
    };
  }

  /**
   * `util.inspect` (and so `console.log`) output with the token redacted.
   *
   * @example
   * ```ts
   * console.log(svid); // JwtSvid { id: 'spiffe://example.org/web', …, token: '[redacted]' }
   * ```
   */
  [inspect.custom](depth: number, options: InspectOptions): string {
    if (depth < 0) return `JwtSvid(${this.id.toString()})`;
    const shown = {
      id: this.id.toString(),
      audience: this.audience,
      expiry: this.expiry,
      hint: this.hint,
      claims: this.claims,
      token: REDACTED,
    };
    const inner = inspect(shown, { ...options, depth: options.depth == null ? null : depth });
    return `JwtSvid ${inner}`;
  }
}
