import type { KeyObject } from 'node:crypto';
import type { JwtBundle } from '../bundle/jwt-bundle.js';
import type { JwtBundleSource } from '../bundle/source.js';
import { InvalidArgumentError } from '../errors.js';
import type { TrustDomain } from '../spiffeid/index.js';
import {
  checkAudience,
  checkTimes,
  decodeJwtSvid,
  resolveAudience,
  resolveSettings,
  verifyJwtSvid,
  type ResolvedSettings,
} from './jwt-svid-checks.js';
import type { JwtSvid } from './jwt-svid.js';
import { checkClaims, finishJwtSvid, rejected } from './parse-jwt-svid.js';

/** Default {@link JwtSvidValidatorOptions.maxEntries}. */
const DEFAULT_MAX_ENTRIES = 10_000;

/**
 * Options of {@link JwtSvidValidator}.
 *
 * @example
 * ```ts
 * const options: JwtSvidValidatorOptions = { bundleSource: bundles, audience: 'reports' };
 * ```
 */
export interface JwtSvidValidatorOptions {
  /** Where the JWT bundles come from; consulted on every call, so rotations take effect. */
  readonly bundleSource: JwtBundleSource;
  /** The audience this service identifies with (or several). Non-empty. */
  readonly audience: string | readonly string[];
  /** Require every expected audience instead of any one. Default false. */
  readonly requireAllAudiences?: boolean;
  /** Allowed clock skew in seconds for `exp`, `nbf` and `iat`. Default 30. */
  readonly clockTolerance?: number;
  /** The current time (a fixed `Date` or a clock function); for tests. */
  readonly now?: Date | (() => Date);
  /** How many validated tokens to remember (least recently used are dropped). Default 10 000. */
  readonly maxEntries?: number;
}

interface Entry {
  readonly svid: JwtSvid;
  readonly exp: number;
  readonly nbf: number | undefined;
  readonly iat: number | undefined;
  readonly trustDomain: TrustDomain;
  readonly kid: string;
  readonly key: KeyObject;
  /** The bundle object last seen to hold `key` under `kid`. */
  bundle: JwtBundle;
  /** The validator's move counter when this entry last moved to the young end of the Map. */
  tick: number;
}

/**
 * Validates JWT-SVIDs like {@link parseAndValidateJwtSvid} and remembers the ones that passed, so
 * a service that sees the same caller's token thousands of times a second pays for the signature
 * once. Opt-in: use it where tokens repeat (request handlers), not for one-off checks.
 *
 * A remembered token is still checked on every call for everything that can change: the clock
 * (`exp`, `nbf`, `iat`, with the tolerance), the audience, and the key. The key that verified it
 * must still be in the current bundle of the subject's trust domain under the same `kid`; when
 * the bundle source hands out a different bundle object, that is re-checked (a cheap key
 * comparison) and the entry is dropped if the key is gone, so revoking a key by rotating it out of
 * the bundle takes effect on the next call. Failed tokens are never remembered. Entries are keyed
 * by the token itself and evicted least-recently-used beyond `maxEntries`; an expired entry is
 * dropped when it is next seen or evicted.
 *
 * @example
 * ```ts
 * import { JwtSvidValidator } from 'spiffe-sdk/svid';
 *
 * const validator = new JwtSvidValidator({
 *   bundleSource: jwtSource,               // e.g. a Workload API JwtSource
 *   audience: 'spiffe://example.org/reports',
 * });
 *
 * async function authenticate(req: IncomingMessage): Promise<SpiffeId> {
 *   const token = req.headers.authorization?.replace(/^Bearer /, '') ?? '';
 *   return (await validator.validate(token)).id; // rejects with InvalidJwtSvidError
 * }
 * ```
 */
export class JwtSvidValidator {
  readonly #source: JwtBundleSource;
  readonly #settings: ResolvedSettings;
  readonly #maxEntries: number;
  /** Insertion order is recency order: the first entry is the one to evict. */
  readonly #entries = new Map<string, Entry>();
  /** Counts moves to the young end of #entries. */
  #tick = 0;

  constructor(options: JwtSvidValidatorOptions) {
    if (typeof options.bundleSource.getJwtBundleForTrustDomain !== 'function') {
      throw new InvalidArgumentError('bundleSource must be a JwtBundleSource');
    }
    const maxEntries = options.maxEntries ?? DEFAULT_MAX_ENTRIES;
    if (!Number.isSafeInteger(maxEntries) || maxEntries < 0) {
      throw new InvalidArgumentError(
        `maxEntries must be an integer >= 0, not ${String(options.maxEntries)}`,
      );
    }
    this.#source = options.bundleSource;
    this.#settings = resolveSettings(options.audience, options);
    this.#maxEntries = maxEntries;
    Object.freeze(this);
  }

  /**
   * How many validated tokens are remembered right now.
   *
   * @example
   * ```ts
   * metrics.gauge('jwt_svid_cache_size', validator.size);
   * ```
   */
  get size(): number {
    return this.#entries.size;
  }

  /**
   * Validates `token` (see {@link parseAndValidateJwtSvid} for the rules) and returns its SVID.
   * `options.audience` replaces the validator's expected audience for this call only.
   *
   * @example
   * ```ts
   * const svid = await validator.validate(token);
   * const forAdmin = await validator.validate(token, { audience: 'admin' });
   * ```
   */
  validate(
    token: string,
    options?: { readonly audience?: string | readonly string[] },
  ): Promise<JwtSvid> {
    // No closure and no extra promise on the hot path.
    try {
      return Promise.resolve(this.#validate(token, options?.audience));
    } catch (err) {
      return rejected(err);
    }
  }

  /**
   * Forgets every remembered token.
   *
   * @example
   * ```ts
   * validator.clear();
   * validator.size; // 0
   * ```
   */
  clear(): void {
    this.#entries.clear();
  }

  #validate(
    token: string,
    audienceOverride: string | readonly string[] | undefined,
  ): JwtSvid | Promise<JwtSvid> {
    const settings =
      audienceOverride === undefined
        ? this.#settings
        : { ...this.#settings, expected: resolveAudience(audienceOverride) };
    const entry = typeof token === 'string' ? this.#entries.get(token) : undefined;
    if (entry !== undefined) {
      const hit = this.#checkHit(token, entry, settings);
      if (hit !== undefined) return hit;
    }
    return this.#validateFully(token, settings);
  }

  /** The remembered SVID if it still passes; throws for the clock and the audience. */
  #checkHit(token: string, entry: Entry, settings: ResolvedSettings): JwtSvid | undefined {
    const now = settings.nowMs();
    try {
      checkTimes(entry, now, settings.toleranceMs);
    } catch (err) {
      this.#entries.delete(token);
      throw err;
    }
    checkAudience(entry.svid.audience, settings.expected, settings.requireAll);

    let bundle: JwtBundle;
    try {
      bundle = this.#source.getJwtBundleForTrustDomain(entry.trustDomain);
    } catch {
      this.#entries.delete(token);
      return undefined; // the full path reports the missing bundle
    }
    if (bundle !== entry.bundle) {
      const key = bundle.findAuthority(entry.kid);
      if (key === undefined || (key !== entry.key && !key.equals(entry.key))) {
        this.#entries.delete(token);
        return undefined;
      }
      entry.bundle = bundle;
    }

    // Approximate LRU: re-inserting moves an entry to the young end of the Map, but a hit only
    // pays for that once the entry has drifted into the older half. An entry in the younger half
    // cannot be the next one evicted, so what is evicted is still among the least recently used.
    if (this.#tick - entry.tick >= this.#maxEntries >> 1) {
      this.#entries.delete(token);
      entry.tick = ++this.#tick;
      this.#entries.set(token, entry);
    }
    return entry.svid;
  }

  async #validateFully(token: string, settings: ResolvedSettings): Promise<JwtSvid> {
    const decoded = decodeJwtSvid(token);
    checkClaims(decoded, settings);
    const by = await verifyJwtSvid(token, decoded, this.#source);
    const svid = finishJwtSvid(token, decoded);
    if (this.#maxEntries > 0) {
      this.#entries.set(token, {
        svid,
        exp: decoded.exp,
        nbf: decoded.nbf,
        iat: decoded.iat,
        trustDomain: decoded.id.trustDomain,
        kid: by.kid,
        key: by.key,
        bundle: by.bundle,
        tick: ++this.#tick,
      });
      for (const oldest of this.#entries.keys()) {
        if (this.#entries.size <= this.#maxEntries) break;
        this.#entries.delete(oldest);
      }
    }
    return svid;
  }
}
