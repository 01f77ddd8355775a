import { JwtBundleSet } from '../bundle/jwt-bundle-set.js';
import type { JwtBundle } from '../bundle/jwt-bundle.js';
import type { JwtBundleSource } from '../bundle/source.js';
import { ClosedError, InvalidArgumentError, WorkloadApiError } from '../errors.js';
import type { TrustDomain } from '../spiffeid/index.js';
import type { JwtSvid } from '../svid/jwt-svid.js';
import type { JwtSvidParams, JwtSvidSource } from '../svid/jwt-svid-source.js';
import {
  audienceOf,
  type CallOptions,
  type WorkloadApiClient,
  type WorkloadApiClientOptions,
} from './client.js';
import { asError, linkSignals, raceSignal } from './signals.js';
import type { SourceStatus } from './source-status.js';
import { PERMISSION_DENIED } from './status.js';
import {
  checkTimeout,
  clientFor,
  StreamWatcher,
  UpdateListeners,
  waitUntilReady,
} from './stream-watcher.js';

/**
 * Options of {@link JwtSource.create}. Give either `client` (not closed by the source) or the
 * options of a client the source creates and owns.
 *
 * @example
 * ```ts
 * const options: JwtSourceOptions = { timeout: 30_000, maxCachedTokens: 100 };
 * ```
 */
export interface JwtSourceOptions extends WorkloadApiClientOptions {
  /** Use this client (it stays open when the source closes). */
  readonly client?: WorkloadApiClient;
  /** Aborts `create()`. */
  readonly signal?: AbortSignal;
  /** How long `create()` waits for the first JWT bundles, in ms (see {@link X509SourceOptions.timeout}). */
  readonly timeout?: number;
  /** How many JWT-SVIDs (by subject and audience) the cache keeps. Default 1000; 0 disables caching. */
  readonly maxCachedTokens?: number;
  /** The clock the cache uses; for tests. Default `Date.now`. */
  readonly now?: () => Date;
}

/**
 * One consistent view of a {@link JwtSource}'s bundles.
 *
 * @example
 * ```ts
 * const { bundles } = source.snapshot();
 * ```
 */
export interface JwtSourceSnapshot {
  /** Every trusted JWT bundle (empty after a withdrawal). */
  readonly bundles: JwtBundleSet;
  /** When this snapshot was made. */
  readonly updatedAt: Date;
}

interface CacheEntry {
  svid?: JwtSvid;
  refreshAtMs: number;
  expiresAtMs: number;
  pending?: Promise<JwtSvid>;
}

const EMPTY = new JwtBundleSet();

/**
 * JWT-SVIDs and JWT bundles from the Workload API (go-spiffe's `workloadapi.JWTSource`, plus a
 * token cache).
 *
 * - {@link JwtSource.fetchJwtSvid} serves tokens from a cache keyed by subject and the sorted set
 *   of audiences. A token is fetched again once half of its lifetime (from `iat`, or from when it
 *   was fetched) has passed, so callers always get a token with at least half its life left.
 *   Concurrent requests for the same key share one Workload API call. If a refresh fails with a
 *   status other than `PermissionDenied` while the cached token is still valid, that token is
 *   returned (and the next call tries again).
 * - The JWT bundles come from a `FetchJWTBundles` watch; a trust domain missing from an update is
 *   no longer trusted. `PermissionDenied` withdraws the bundles and empties the token cache.
 *
 * @example
 * ```ts
 * import { JwtSource } from 'spiffe-sdk/workloadapi';
 * import { parseAndValidateJwtSvid } from 'spiffe-sdk/svid';
 *
 * await using source = await JwtSource.create({ timeout: 30_000 });
 * // Caller side:
 * const svid = await source.fetchJwtSvid({ audience: 'spiffe://example.org/reports' });
 * // Server side:
 * const caller = await parseAndValidateJwtSvid(token, source, 'spiffe://example.org/reports');
 * ```
 */
export class JwtSource implements JwtSvidSource, JwtBundleSource, AsyncDisposable {
  readonly #watcher: StreamWatcher<'FetchJWTBundles'>;
  readonly #ownsClient: boolean;
  readonly #listeners: UpdateListeners<JwtSourceSnapshot>;
  readonly #cache = new Map<string, CacheEntry>();
  readonly #maxCached: number;
  readonly #now: () => Date;
  readonly #stop = new AbortController();
  /** Bumped when the cache is emptied, so a fetch that was in flight does not refill it. */
  #generation = 0;
  #view: JwtSourceSnapshot;
  #closed: Promise<void> | undefined;

  private constructor(
    watcher: StreamWatcher<'FetchJWTBundles'>,
    ownsClient: boolean,
    maxCached: number,
    now: () => Date,
  ) {
    this.#watcher = watcher;
    this.#ownsClient = ownsClient;
    this.#maxCached = maxCached;
    this.#now = now;
    this.#listeners = new UpdateListeners(watcher.client);
    this.#view = this.#compute();
    watcher.subscribe(() => {
      this.#view = this.#compute();
      if (watcher.withdrawnBy !== undefined) {
        this.#cache.clear();
        this.#generation++;
      }
      this.#listeners.emit(this.#view);
    });
  }

  /**
   * Starts watching the JWT bundles and resolves after the first update; fails like
   * {@link X509Source.create}.
   *
   * @example
   * ```ts
   * const source = await JwtSource.create({ timeout: 10_000 });
   * ```
   */
  static async create(options: JwtSourceOptions = {}): Promise<JwtSource> {
    const timeout = checkTimeout(options.timeout, 'JwtSource');
    const maxCached = options.maxCachedTokens ?? 1000;
    if (!Number.isSafeInteger(maxCached) || maxCached < 0) {
      throw new InvalidArgumentError('JwtSource: "maxCachedTokens" must be an integer >= 0');
    }
    if (options.now !== undefined && typeof options.now !== 'function') {
      throw new InvalidArgumentError('JwtSource: "now" must be a function returning a Date');
    }
    const { client, owned } = clientFor(options, 'JwtSource');
    const watcher = new StreamWatcher(client, 'FetchJWTBundles', (a, b) => a.equals(b));
    watcher.start();
    try {
      await waitUntilReady([watcher], 'JwtSource', { signal: options.signal, timeout });
    } catch (err) {
      await watcher.stop();
      if (owned) await client.close();
      throw err;
    }
    return new JwtSource(watcher, owned, maxCached, options.now ?? (() => new Date()));
  }

  /**
   * A JWT-SVID for `params` from the cache, or fetched from the Workload API (see the class
   * description for the refresh rule). Rejects with {@link WorkloadApiError},
   * {@link InvalidWorkloadApiResponseError}, {@link InvalidArgumentError} (empty audience),
   * {@link ClosedError}, or the signal's reason.
   *
   * @example
   * ```ts
   * const svid = await source.fetchJwtSvid(
   *   { audience: 'spiffe://example.org/reports' },
   *   { signal: AbortSignal.timeout(2_000) },
   * );
   * ```
   */
  fetchJwtSvid(params: JwtSvidParams, options: CallOptions = {}): Promise<JwtSvid> {
    if (this.#closed !== undefined) return Promise.reject(new ClosedError('JwtSource is closed'));
    let audience: string[];
    try {
      audience = audienceOf(params);
    } catch (err) {
      return Promise.reject(asError(err));
    }
    const key = JSON.stringify([params.subject?.toString() ?? '', [...new Set(audience)].sort()]);
    const nowMs = this.#now().getTime();
    const entry = this.#cache.get(key);
    if (entry?.svid !== undefined && nowMs < entry.refreshAtMs && nowMs < entry.expiresAtMs) {
      // Most recently used last, so the oldest entry is the first to go when the cache is full.
      this.#cache.delete(key);
      this.#cache.set(key, entry);
      return Promise.resolve(entry.svid);
    }
    if (entry?.pending !== undefined) return raceSignal(entry.pending, options.signal);
    const pending = this.#refresh(key, params, entry);
    return raceSignal(pending, options.signal);
  }

  /**
   * Every identity's JWT-SVID for `params.audience`, straight from the Workload API (not cached).
   *
   * @example
   * ```ts
   * const svids = await source.fetchJwtSvids({ audience: 'spiffe://example.org/reports' });
   * ```
   */
  fetchJwtSvids(params: JwtSvidParams, options: CallOptions = {}): Promise<readonly JwtSvid[]> {
    if (this.#closed !== undefined) return Promise.reject(new ClosedError('JwtSource is closed'));
    return this.#watcher.client.fetchJwtSvids(params, options);
  }

  /**
   * The JWT bundle of `trustDomain`. Throws {@link BundleNotFoundError} when it is not trusted,
   * {@link ClosedError} after `close()`.
   *
   * @example
   * ```ts
   * const bundle = source.getJwtBundleForTrustDomain(TrustDomain.parse('example.org'));
   * ```
   */
  getJwtBundleForTrustDomain(trustDomain: TrustDomain): JwtBundle {
    return this.#open().bundles.getJwtBundleForTrustDomain(trustDomain);
  }

  /**
   * Every trusted JWT bundle, as one immutable set.
   *
   * @example
   * ```ts
   * const set = source.getJwtBundleSet();
   * ```
   */
  getJwtBundleSet(): JwtBundleSet {
    return this.#open().bundles;
  }

  /**
   * The current bundles as one immutable value.
   *
   * @example
   * ```ts
   * const { bundles, updatedAt } = source.snapshot();
   * ```
   */
  snapshot(): JwtSourceSnapshot {
    return this.#open();
  }

  /**
   * Calls `listener` after every change of the JWT bundles (including a withdrawal); returns the
   * unsubscribe function.
   *
   * @example
   * ```ts
   * const off = source.onUpdate(({ bundles }) => publishJwks(bundles));
   * ```
   */
  onUpdate(listener: (snapshot: JwtSourceSnapshot) => void): () => void {
    return this.#listeners.add(listener);
  }

  /**
   * The same changes as an async iterable; ends when the source closes or `signal` aborts.
   *
   * @example
   * ```ts
   * for await (const { bundles } of source.updates({ signal })) publishJwks(bundles);
   * ```
   */
  updates(options: { signal?: AbortSignal } = {}): AsyncIterable<JwtSourceSnapshot> {
    return this.#listeners.iterate(options.signal);
  }

  /**
   * Health of the bundle watch.
   *
   * @example
   * ```ts
   * source.status().state; // 'ready'
   * ```
   */
  status(): SourceStatus {
    if (this.#closed !== undefined) return { ...this.#watcher.status(), state: 'closed' };
    return this.#watcher.status();
  }

  /**
   * Stops the watch, cancels pending fetches, empties the cache and closes the client it owns.
   * Idempotent.
   *
   * @example
   * ```ts
   * await source.close();
   * ```
   */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      this.#stop.abort(new ClosedError('JwtSource is closed'));
      this.#listeners.close();
      this.#cache.clear();
      this.#generation++;
      await this.#watcher.stop();
      if (this.#ownsClient) await this.#watcher.client.close();
    })();
    return this.#closed;
  }

  /**
   * Same as `close()`.
   *
   * @example
   * ```ts
   * await using source = await JwtSource.create();
   * ```
   */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #open(): JwtSourceSnapshot {
    if (this.#closed !== undefined) throw new ClosedError('JwtSource is closed');
    return this.#view;
  }

  #compute(): JwtSourceSnapshot {
    return Object.freeze({ bundles: this.#watcher.value ?? EMPTY, updatedAt: new Date() });
  }

  /** One shared fetch for `key`; the callers' signals only stop their own waiting. */
  #refresh(key: string, params: JwtSvidParams, stale: CacheEntry | undefined): Promise<JwtSvid> {
    const entry: CacheEntry = stale ?? { refreshAtMs: 0, expiresAtMs: 0 };
    const { signal, release } = linkSignals(this.#stop.signal);
    const fetchedAtMs = this.#now().getTime();
    const generation = this.#generation;
    const pending = this.#watcher.client.fetchJwtSvid(params, { signal }).then(
      (svid) => {
        release();
        entry.svid = svid;
        delete entry.pending;
        entry.expiresAtMs = svid.expiry.getTime();
        const iat = svid.claims['iat'];
        const issuedAtMs =
          typeof iat === 'number' && Number.isFinite(iat) && iat * 1000 <= fetchedAtMs + 60_000
            ? iat * 1000
            : fetchedAtMs;
        entry.refreshAtMs = issuedAtMs + (entry.expiresAtMs - issuedAtMs) / 2;
        if (generation === this.#generation) this.#store(key, entry);
        return svid;
      },
      (err: unknown) => {
        release();
        delete entry.pending;
        const nowMs = this.#now().getTime();
        const withdrawn = err instanceof WorkloadApiError && err.grpcCode === PERMISSION_DENIED;
        if (
          !withdrawn &&
          entry.svid !== undefined &&
          nowMs < entry.expiresAtMs &&
          this.#closed === undefined
        ) {
          // The agent is briefly unavailable; the token we hold is still valid.
          return entry.svid;
        }
        if (this.#cache.get(key) === entry) this.#cache.delete(key);
        throw err;
      },
    );
    entry.pending = pending;
    this.#store(key, entry);
    return pending;
  }

  #store(key: string, entry: CacheEntry): void {
    if (this.#closed !== undefined) return;
    this.#cache.delete(key);
    if (this.#maxCached === 0 && entry.pending === undefined) return;
    this.#cache.set(key, entry);
    const nowMs = this.#now().getTime();
    for (const [k, e] of this.#cache) {
      if (this.#cache.size <= Math.max(this.#maxCached, 1)) break;
      if (e.pending === undefined || nowMs >= e.expiresAtMs) this.#cache.delete(k);
    }
  }
}
