import type { JwtBundle } from '../bundle/jwt-bundle.js';
import type { JwtBundleSource, SpiffeBundleSource, X509BundleSource } from '../bundle/source.js';
import { SpiffeBundle } from '../bundle/spiffe-bundle.js';
import type { X509Bundle } from '../bundle/x509-bundle.js';
import { BundleNotFoundError, ClosedError, InvalidArgumentError } from '../errors.js';
import type { TrustDomain } from '../spiffeid/index.js';
import { type Backoff, type BackoffStrategy, exponentialBackoff } from '../workloadapi/backoff.js';
import { abortReason, asError } from '../workloadapi/signals.js';
import { integerOption, MAX_TIMER_DELAY } from './args.js';
import {
  type FetchBundleOptions,
  fetchResolved,
  type ResolvedFetch,
  resolveFetch,
} from './fetch.js';

/**
 * The timer functions a {@link BundleWatch} schedules its fetches with. The default is the real
 * clock (`Date.now`, `setTimeout`, `clearTimeout`); tests inject a fake one to drive refreshes
 * without waiting.
 *
 * @example
 * ```ts
 * const timers: { fn: () => void; ms: number }[] = [];
 * const clock: WatchClock = {
 *   now: () => 0,
 *   setTimeout: (fn, ms) => timers.push({ fn, ms }),
 *   clearTimeout: () => undefined,
 * };
 * ```
 */
export interface WatchClock {
  /** The current time in milliseconds since the epoch. */
  now(): number;
  /** Calls `callback` once after `ms` milliseconds; returns a handle for `clearTimeout`. */
  setTimeout(callback: () => void, ms: number): unknown;
  /** Cancels a pending `setTimeout`. */
  clearTimeout(handle: unknown): void;
}

/**
 * Options of {@link watchBundle}: those of {@link fetchBundle} (applied to every fetch; `signal`
 * ends the whole watch) plus the refresh policy. All durations are in milliseconds.
 *
 * @example
 * ```ts
 * const options: WatchBundleOptions = {
 *   auth: { profile: 'https_web' },
 *   minRefresh: 30_000,
 *   onError: (err) => log.warn(err.message),
 * };
 * ```
 */
export interface WatchBundleOptions extends FetchBundleOptions {
  /** The shortest refresh interval: smaller refresh hints are raised to it. Default 60 000. */
  readonly minRefresh?: number;
  /**
   * The longest refresh interval: larger refresh hints are lowered to it. Default 3 600 000 (or
   * `minRefresh` when that is larger).
   */
  readonly maxRefresh?: number;
  /** The refresh interval while the bundle has no refresh hint. Default 300 000. */
  readonly defaultRefresh?: number;
  /**
   * The retry schedule after a failed fetch; each delay is capped at the refresh interval.
   * Default: `exponentialBackoff({ initialDelayMs: 1000 })` with its 0-50 % jitter.
   */
  readonly backoff?: BackoffStrategy;
  /** The clock the refreshes are scheduled with. Default: the real one. */
  readonly clock?: WatchClock;
  /**
   * A bundle of the watched trust domain to start from (for example the one configured out of
   * band). It is {@link BundleWatch.latest} until a fetch brings a different one, and it
   * authenticates the first fetch from a self-serving https_spiffe endpoint.
   */
  readonly initialBundle?: SpiffeBundle;
  /** Called with every failed fetch (the watch keeps its last good bundle and retries). */
  readonly onError?: (error: Error) => void;
}

/**
 * A running watch of one trust domain's bundle endpoint, made by {@link watchBundle}. It is an
 * async iterable of bundles, a bundle source for its trust domain, and a resource to close.
 *
 * @example
 * ```ts
 * await using watch = watchBundle('partner.org', url, { auth: { profile: 'https_web' } });
 * for await (const bundle of watch) trustStore.update({ bundles: ownSet.with(bundle.x509Bundle()) });
 * ```
 */
export interface BundleWatch
  extends
    AsyncIterable<SpiffeBundle>,
    SpiffeBundleSource,
    X509BundleSource,
    JwtBundleSource,
    AsyncDisposable {
  /** The watched trust domain. */
  readonly trustDomain: TrustDomain;
  /** The last good bundle (fetched, or the initial one), or `undefined` before there is one. */
  readonly latest: SpiffeBundle | undefined;
  /** The error of the last fetch when it failed, `undefined` after a successful one. */
  readonly lastError: Error | undefined;
  /** When the next fetch is due (the clock's milliseconds), or `undefined` while fetching or closed. */
  readonly nextRefreshAt: number | undefined;
  /** Whether the watch was closed (by `close()` or its signal). */
  readonly closed: boolean;
  /**
   * Resolves with {@link BundleWatch.latest} as soon as there is one. Rejects with `ClosedError`
   * when the watch closes first, and with the signal's reason when `options.signal` aborts.
   */
  waitForBundle(options?: { signal?: AbortSignal }): Promise<SpiffeBundle>;
  /**
   * Stops the watch: no further fetch, the current one is aborted, every iteration ends, and
   * nothing keeps the process alive afterwards. Idempotent; resolves when the fetch has settled.
   */
  close(): Promise<void>;
}

interface Consumer {
  pending: SpiffeBundle | undefined;
  wake: ((result: IteratorResult<SpiffeBundle, undefined>) => void) | undefined;
}

interface Waiter {
  resolve(bundle: SpiffeBundle): void;
  reject(error: Error): void;
}

const DEFAULT_MIN_REFRESH = 60_000;
const DEFAULT_MAX_REFRESH = 3_600_000;
const DEFAULT_REFRESH = 300_000;

const realClock: WatchClock = Object.freeze({
  now: () => Date.now(),
  setTimeout: (callback: () => void, ms: number): unknown => setTimeout(callback, ms),
  clearTimeout: (handle: unknown) => {
    clearTimeout(handle as NodeJS.Timeout);
  },
});

function closedError(): ClosedError {
  return new ClosedError('the bundle watch is closed');
}

class BundleWatchImpl implements BundleWatch {
  readonly trustDomain: TrustDomain;
  readonly #r: ResolvedFetch;
  readonly #min: number;
  readonly #max: number;
  readonly #default: number;
  readonly #backoff: Backoff;
  readonly #clock: WatchClock;
  readonly #onError: ((error: Error) => void) | undefined;
  readonly #signal: AbortSignal | undefined;
  readonly #stop = new AbortController();
  readonly #consumers = new Set<Consumer>();
  readonly #waiters = new Set<Waiter>();
  #latest: SpiffeBundle | undefined;
  #lastError: Error | undefined;
  #timer: unknown;
  #nextAt: number | undefined;
  #inflight: Promise<void> | undefined;
  #closed = false;
  #closing: Promise<void> | undefined;

  constructor(r: ResolvedFetch, options: WatchBundleOptions) {
    const what = 'watchBundle';
    this.trustDomain = r.trustDomain;
    this.#r = r;
    this.#min = integerOption(
      options.minRefresh,
      'minRefresh',
      1,
      MAX_TIMER_DELAY,
      DEFAULT_MIN_REFRESH,
      what,
    );
    this.#max = integerOption(
      options.maxRefresh,
      'maxRefresh',
      this.#min,
      MAX_TIMER_DELAY,
      Math.max(DEFAULT_MAX_REFRESH, this.#min),
      what,
    );
    this.#default = integerOption(
      options.defaultRefresh,
      'defaultRefresh',
      1,
      MAX_TIMER_DELAY,
      DEFAULT_REFRESH,
      what,
    );
    const backoff: unknown = options.backoff ?? exponentialBackoff({ initialDelayMs: 1_000 });
    if (typeof (backoff as Partial<BackoffStrategy>).newBackoff !== 'function') {
      throw new InvalidArgumentError(`${what}: backoff must be a BackoffStrategy`);
    }
    this.#backoff = (backoff as BackoffStrategy).newBackoff();
    const clock: unknown = options.clock ?? realClock;
    const c = clock as Partial<WatchClock>;
    if (
      typeof c.now !== 'function' ||
      typeof c.setTimeout !== 'function' ||
      typeof c.clearTimeout !== 'function'
    ) {
      throw new InvalidArgumentError(`${what}: clock needs now(), setTimeout() and clearTimeout()`);
    }
    this.#clock = clock as WatchClock;
    const initial: unknown = options.initialBundle;
    if (initial !== undefined) {
      if (!(initial instanceof SpiffeBundle) || !initial.trustDomain.equals(r.trustDomain)) {
        throw new InvalidArgumentError(
          `${what}: initialBundle must be a SpiffeBundle of trust domain "${r.trustDomain.name}"`,
        );
      }
      this.#latest = initial;
    }
    if (options.onError !== undefined && typeof options.onError !== 'function') {
      throw new InvalidArgumentError(`${what}: onError must be a function`);
    }
    this.#onError = options.onError;
    this.#signal = options.signal;
    if (this.#signal?.aborted === true) {
      void this.close();
      return;
    }
    this.#signal?.addEventListener('abort', this.#onAbort, { once: true });
    this.#poll();
  }

  get latest(): SpiffeBundle | undefined {
    return this.#latest;
  }

  get lastError(): Error | undefined {
    return this.#lastError;
  }

  get nextRefreshAt(): number | undefined {
    return this.#nextAt;
  }

  get closed(): boolean {
    return this.#closed;
  }

  readonly #onAbort = (): void => {
    void this.close();
  };

  /** The refresh interval after a fetch: the hint (or the default), clamped to [min, max]. */
  #interval(): number {
    const hint = this.#latest?.refreshHint;
    const ms = hint === undefined ? this.#default : hint * 1000;
    return Math.min(this.#max, Math.max(this.#min, ms));
  }

  #schedule(ms: number): void {
    this.#nextAt = this.#clock.now() + ms;
    this.#timer = this.#clock.setTimeout(() => {
      this.#poll();
    }, ms);
  }

  #poll(): void {
    if (this.closed) return;
    this.#timer = undefined;
    this.#nextAt = undefined;
    // #fetch handles every fetch error itself; this only catches a clock that throws.
    this.#inflight = this.#fetch().catch((err: unknown) => {
      this.#report(asError(err));
    });
  }

  async #fetch(): Promise<void> {
    // A self-serving https_spiffe endpoint is authenticated with the newest bundle of its own
    // trust domain once there is one, so it can rotate its keys (Federation §5.2.2.4).
    const trust = this.#r.selfServing ? this.#latest?.x509Bundle() : undefined;
    let bundle: SpiffeBundle;
    try {
      bundle = await fetchResolved(this.#r, this.#stop.signal, trust);
    } catch (err) {
      if (this.closed) return;
      const error = asError(err);
      this.#lastError = error;
      const delay = this.#backoff.next();
      this.#schedule(
        Number.isFinite(delay) ? Math.max(0, Math.min(delay, this.#interval())) : this.#interval(),
      );
      this.#report(error);
      return;
    }
    if (this.closed) return;
    this.#backoff.reset();
    this.#lastError = undefined;
    const changed = this.#latest === undefined || !this.#latest.equals(bundle);
    if (changed) this.#latest = bundle;
    this.#schedule(this.#interval());
    if (changed) this.#publish(bundle);
  }

  #report(error: Error): void {
    try {
      this.#onError?.(error);
    } catch {
      // An observer that throws must not stop the watch.
    }
  }

  #publish(bundle: SpiffeBundle): void {
    for (const consumer of this.#consumers) {
      const wake = consumer.wake;
      consumer.wake = undefined;
      if (wake === undefined) consumer.pending = bundle;
      else wake({ done: false, value: bundle });
    }
    for (const waiter of [...this.#waiters]) waiter.resolve(bundle);
  }

  waitForBundle(options: { signal?: AbortSignal } = {}): Promise<SpiffeBundle> {
    if (this.#latest !== undefined) return Promise.resolve(this.#latest);
    if (this.closed) return Promise.reject(closedError());
    const { signal } = options;
    if (signal?.aborted === true) return Promise.reject(abortReason(signal));
    return new Promise<SpiffeBundle>((resolve, reject) => {
      const cleanup = (): void => {
        this.#waiters.delete(waiter);
        signal?.removeEventListener('abort', onAbort);
      };
      const waiter: Waiter = {
        resolve: (bundle) => {
          cleanup();
          resolve(bundle);
        },
        reject: (error) => {
          cleanup();
          reject(error);
        },
      };
      const onAbort = (): void => {
        if (signal !== undefined) waiter.reject(abortReason(signal));
      };
      this.#waiters.add(waiter);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  [Symbol.asyncIterator](): AsyncIterator<SpiffeBundle, undefined> {
    const consumer: Consumer = { pending: this.#latest, wake: undefined };
    if (!this.closed) this.#consumers.add(consumer);
    const done = (): IteratorResult<SpiffeBundle, undefined> => {
      this.#consumers.delete(consumer);
      consumer.pending = undefined;
      return { done: true, value: undefined };
    };
    return {
      next: () => {
        if (this.closed) return Promise.resolve(done());
        const value = consumer.pending;
        if (value !== undefined) {
          consumer.pending = undefined;
          return Promise.resolve({ done: false, value });
        }
        return new Promise((resolve) => {
          consumer.wake = resolve;
        });
      },
      return: () => {
        const wake = consumer.wake;
        consumer.wake = undefined;
        const result = done();
        wake?.(result);
        return Promise.resolve(result);
      },
    };
  }

  #current(trustDomain: TrustDomain, kind: 'X.509' | 'JWT' | 'SPIFFE'): SpiffeBundle {
    const latest = this.#latest;
    if (latest?.trustDomain.equals(trustDomain) !== true) {
      throw new BundleNotFoundError(trustDomain.name, kind);
    }
    return latest;
  }

  getBundleForTrustDomain(trustDomain: TrustDomain): SpiffeBundle {
    return this.#current(trustDomain, 'SPIFFE');
  }

  getX509BundleForTrustDomain(trustDomain: TrustDomain): X509Bundle {
    return this.#current(trustDomain, 'X.509').x509Bundle();
  }

  getJwtBundleForTrustDomain(trustDomain: TrustDomain): JwtBundle {
    return this.#current(trustDomain, 'JWT').jwtBundle();
  }

  close(): Promise<void> {
    this.#closed = true;
    this.#closing ??= (async () => {
      if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
      this.#timer = undefined;
      this.#nextAt = undefined;
      this.#signal?.removeEventListener('abort', this.#onAbort);
      this.#stop.abort(closedError());
      for (const consumer of [...this.#consumers]) {
        const wake = consumer.wake;
        consumer.wake = undefined;
        consumer.pending = undefined;
        wake?.({ done: true, value: undefined });
      }
      this.#consumers.clear();
      for (const waiter of [...this.#waiters]) waiter.reject(closedError());
      await this.#inflight;
    })();
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/**
 * Keeps the SPIFFE bundle of `trustDomain` up to date from its bundle endpoint (SPIFFE Federation
 * §4.1, §4.2, §6.2): fetches at once, then again after each refresh interval, with every rule of
 * {@link fetchBundle}. The refresh interval is the bundle's `spiffe_refresh_hint` (or
 * `defaultRefresh`, 5 minutes, when it has none, as §4.1 recommends), clamped to
 * [`minRefresh`, `maxRefresh`] (1 minute, 1 hour).
 *
 * - The watch is an async iterable: each iteration yields {@link BundleWatch.latest} first (if
 *   there is one), then every fetched bundle that differs from the previous one (trust domain,
 *   sequence number, refresh hint and every key compared); an unchanged bundle yields nothing. A
 *   slow consumer gets the newest bundle, not a backlog. Breaking out of a loop ends that
 *   iteration only.
 * - A failed fetch never ends the watch: the last good bundle stays, the error goes to `onError`
 *   and {@link BundleWatch.lastError}, and the fetch is retried after the backoff delay, at the
 *   latest after the refresh interval.
 * - A self-serving https_spiffe endpoint (its SPIFFE ID in `trustDomain`) is authenticated with
 *   the newest bundle the watch holds, bootstrapped from `auth.bundleSource` (or `initialBundle`),
 *   so the endpoint can rotate its keys (§5.2.2.4).
 * - The watch is a bundle source for `trustDomain` (throwing `BundleNotFoundError` until it has a
 *   bundle), so it can feed another watch's `bundleSource` (§7.6) or a verifier.
 *
 * Invalid options throw `InvalidArgumentError` at once. `close()`, `await using` or
 * `options.signal` stop it.
 *
 * @example
 * ```ts
 * import { watchBundle } from 'spiffe-sdk/federation';
 *
 * const watch = watchBundle('partner.org', 'https://bundle.partner.example/', {
 *   auth: { profile: 'https_spiffe', endpointId: 'spiffe://partner.org/spire/server', bundleSource: bootstrap },
 *   onError: (err) => console.warn(err.message),
 * });
 * for await (const bundle of watch) console.log('partner.org bundle', bundle.sequenceNumber);
 * ```
 */
export function watchBundle(
  trustDomain: TrustDomain | string,
  url: string | URL,
  options: WatchBundleOptions,
): BundleWatch {
  return new BundleWatchImpl(resolveFetch(trustDomain, url, options, 'watchBundle'), options);
}
