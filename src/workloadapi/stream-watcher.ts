// The machinery every source shares: one watch on one stream, its latest accepted value, the
// withdrawal rule, health, readiness, and client ownership. Internal.
import {
  ClosedError,
  InvalidArgumentError,
  SourceTimeoutError,
  type InvalidWorkloadApiResponseError,
  type SpiffeError,
  type WorkloadApiError,
} from '../errors.js';
import {
  WorkloadApiClient,
  type WatchKind,
  type WatchValues,
  type WorkloadApiClientOptions,
} from './client.js';
import { abortReason, asError } from './signals.js';
import type { SourceState, SourceStatus } from './source-status.js';
import { PERMISSION_DENIED } from './status.js';

/** The options every source takes to find its client. */
export interface SourceClientOptions extends WorkloadApiClientOptions {
  readonly client?: WorkloadApiClient;
}

/** The client a source uses: the given one (not closed by the source) or a new one it owns. */
export function clientFor(
  options: SourceClientOptions,
  what: string,
): { client: WorkloadApiClient; owned: boolean } {
  if (options.client !== undefined) {
    if (!(options.client instanceof WorkloadApiClient)) {
      throw new InvalidArgumentError(`${what}: "client" must be a WorkloadApiClient`);
    }
    for (const key of ['address', 'backoff', 'onEvent', 'grpcChannelOptions'] as const) {
      if (options[key] !== undefined) {
        throw new InvalidArgumentError(
          `${what}: "${key}" cannot be combined with "client"; configure the client instead`,
        );
      }
    }
    return { client: options.client, owned: false };
  }
  const { address, backoff, onEvent, grpcChannelOptions } = options;
  return {
    client: new WorkloadApiClient({
      ...(address === undefined ? {} : { address }),
      ...(backoff === undefined ? {} : { backoff }),
      ...(onEvent === undefined ? {} : { onEvent }),
      ...(grpcChannelOptions === undefined ? {} : { grpcChannelOptions }),
    }),
    owned: true,
  };
}

/** Checks a source's `timeout` option (milliseconds). */
export function checkTimeout(timeout: unknown, what: string): number | undefined {
  if (timeout === undefined) return undefined;
  if (typeof timeout !== 'number' || !Number.isFinite(timeout) || timeout < 0) {
    throw new InvalidArgumentError(`${what}: "timeout" must be a number of milliseconds >= 0`);
  }
  return timeout;
}

/**
 * One watched stream. Keeps the latest accepted value (replacing it only when `equals` says it
 * changed), withdraws it on `PermissionDenied`, and tracks health.
 */
export class StreamWatcher<K extends WatchKind> {
  readonly client: WorkloadApiClient;
  readonly kind: K;
  readonly #equals: (a: WatchValues[K], b: WatchValues[K]) => boolean;
  readonly #stop = new AbortController();
  readonly #listeners = new Set<() => void>();
  readonly #ready: Promise<void>;
  #resolveReady!: () => void;
  #rejectReady!: (err: Error) => void;
  #run: Promise<void> | undefined;
  #value: WatchValues[K] | undefined;
  #withdrawnBy: WorkloadApiError | undefined;
  #state: SourceState = 'starting';
  #lastUpdate: Date | undefined;
  #lastError: SpiffeError | undefined;
  #lastErrorAt: Date | undefined;
  #updates = 0;

  constructor(
    client: WorkloadApiClient,
    kind: K,
    equals: (a: WatchValues[K], b: WatchValues[K]) => boolean,
  ) {
    this.client = client;
    this.kind = kind;
    this.#equals = equals;
    this.#ready = new Promise<void>((resolve, reject) => {
      this.#resolveReady = resolve;
      this.#rejectReady = reject;
    });
    // Nobody may be waiting when the watch fails; the failure is also in the status.
    this.#ready.catch(() => undefined);
  }

  /** The latest accepted value, or `undefined` before the first one and after a withdrawal. */
  get value(): WatchValues[K] | undefined {
    return this.#value;
  }

  /** The `PermissionDenied` that withdrew the value, if it is withdrawn. */
  get withdrawnBy(): WorkloadApiError | undefined {
    return this.#withdrawnBy;
  }

  /** Resolves on the first accepted value; rejects on a status that ends the watch, or on stop. */
  get ready(): Promise<void> {
    return this.#ready;
  }

  start(): void {
    this.#run ??= this.client
      .watchInternal(
        this.kind,
        {
          onUpdate: (value) => {
            this.#onUpdate(value);
          },
          onRejected: (error) => {
            this.#onRejected(error);
          },
          onFailure: (error, retryInMs) => {
            this.#onFailure(error, retryInMs);
          },
        },
        this.#stop.signal,
      )
      .then(
        () => {
          this.#rejectReady(new ClosedError('the source was closed before its first update'));
        },
        (err: unknown) => {
          this.#rejectReady(err as Error);
        },
      );
  }

  /** Calls `listener` (synchronously) after every change of {@link StreamWatcher.value}. */
  subscribe(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  status(): SourceStatus {
    return Object.freeze({
      state: this.#state,
      lastUpdate: this.#lastUpdate,
      lastError: this.#lastError,
      lastErrorAt: this.#lastErrorAt,
      updates: this.#updates,
    });
  }

  /** Stops the watch (and waits for it). Does not close the client. */
  async stop(): Promise<void> {
    this.#stop.abort();
    this.#state = 'closed';
    this.#listeners.clear();
    await this.#run;
  }

  #changed(): void {
    this.#updates++;
    for (const listener of [...this.#listeners]) listener();
  }

  #onUpdate(value: WatchValues[K]): void {
    if (this.#stop.signal.aborted) return;
    this.#lastUpdate = new Date();
    this.#state = 'ready';
    const previous = this.#value;
    this.#withdrawnBy = undefined;
    if (previous === undefined || !this.#equals(previous, value)) {
      this.#value = value;
      this.#changed();
    }
    this.#resolveReady();
  }

  #onRejected(error: InvalidWorkloadApiResponseError): void {
    this.#lastError = error;
    this.#lastErrorAt = new Date();
  }

  #onFailure(error: WorkloadApiError, retryInMs: number | undefined): void {
    if (this.#stop.signal.aborted) return;
    this.#lastError = error;
    this.#lastErrorAt = new Date();
    if (retryInMs === undefined) {
      this.#state = 'failed';
      return;
    }
    if (error.grpcCode === PERMISSION_DENIED) {
      // Workload API §5.2.1: an agent that no longer vouches for this workload withdraws what it
      // sent; the workload must stop presenting it, not keep the old identity until it expires.
      this.#state = 'no-identity';
      this.#withdrawnBy = error;
      if (this.#value !== undefined) {
        this.#value = undefined;
        this.#changed();
      }
      return;
    }
    this.#state = this.#withdrawnBy === undefined ? 'reconnecting' : 'no-identity';
  }
}

/**
 * Waits until every watcher has its first value, or fails: with the status that ended a watch,
 * with {@link SourceTimeoutError} after `timeout` ms (carrying the last error seen), or with the
 * signal's reason.
 */
export function waitUntilReady(
  watchers: readonly { readonly ready: Promise<void>; status(): SourceStatus }[],
  what: string,
  options: { readonly signal?: AbortSignal | undefined; readonly timeout?: number | undefined },
): Promise<void> {
  const { signal, timeout } = options;
  return new Promise<void>((resolve, reject) => {
    if (signal?.aborted === true) {
      reject(abortReason(signal));
      return;
    }
    let timer: NodeJS.Timeout | undefined;
    const done = (fn: () => void): void => {
      if (timer !== undefined) clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      fn();
    };
    const onAbort = (): void => {
      done(() => {
        if (signal !== undefined) reject(abortReason(signal));
      });
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    if (timeout !== undefined) {
      timer = setTimeout(() => {
        const errors = watchers
          .map((w) => w.status())
          .filter((s) => s.lastErrorAt !== undefined)
          .sort((a, b) => (a.lastErrorAt?.getTime() ?? 0) - (b.lastErrorAt?.getTime() ?? 0));
        done(() => {
          reject(new SourceTimeoutError(what, timeout, errors.at(-1)?.lastError));
        });
      }, timeout);
    }
    Promise.all(watchers.map((w) => w.ready)).then(
      () => {
        done(resolve);
      },
      (err: unknown) => {
        done(() => {
          reject(asError(err));
        });
      },
    );
  });
}

/** Delivers the latest of a series of values to `for await` loops, dropping superseded ones. */
export class LatestQueue<T> {
  #latest: { value: T } | undefined;
  #done = false;
  #wake: (() => void) | undefined;

  push(value: T): void {
    if (this.#done) return;
    this.#latest = { value };
    this.#notify();
  }

  end(): void {
    this.#done = true;
    this.#notify();
  }

  async next(): Promise<IteratorResult<T, undefined>> {
    for (;;) {
      if (this.#latest !== undefined) {
        const { value } = this.#latest;
        this.#latest = undefined;
        return { value, done: false };
      }
      if (this.#done) return { value: undefined, done: true };
      await new Promise<void>((resolve) => (this.#wake = resolve));
    }
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
}

/**
 * The update listeners and `for await` iterators of one source. Listener errors are reported to
 * the client's event hook and never stop the other listeners.
 */
export class UpdateListeners<T> {
  readonly #listeners = new Set<(value: T) => void>();
  readonly #queues = new Set<LatestQueue<T>>();
  readonly #client: WorkloadApiClient;
  #closed = false;

  constructor(client: WorkloadApiClient) {
    this.#client = client;
  }

  add(listener: (value: T) => void): () => void {
    if (typeof listener !== 'function') {
      throw new InvalidArgumentError('an update listener must be a function');
    }
    if (this.#closed) return () => undefined;
    // Wrapped so that the same function subscribed twice is called twice and unsubscribed once.
    const entry = (value: T): void => {
      listener(value);
    };
    this.#listeners.add(entry);
    return () => {
      this.#listeners.delete(entry);
    };
  }

  iterate(signal: AbortSignal | undefined): AsyncIterable<T> {
    return {
      [Symbol.asyncIterator]: (): AsyncIterator<T, undefined> => {
        const queue = new LatestQueue<T>();
        const stop = (): void => {
          this.#queues.delete(queue);
          signal?.removeEventListener('abort', stop);
          queue.end();
        };
        if (this.#closed || signal?.aborted === true) queue.end();
        else {
          this.#queues.add(queue);
          signal?.addEventListener('abort', stop, { once: true });
        }
        return {
          next: () => queue.next(),
          return: () => {
            stop();
            return Promise.resolve({ value: undefined, done: true });
          },
        };
      },
    };
  }

  emit(value: T): void {
    for (const queue of this.#queues) queue.push(value);
    for (const listener of [...this.#listeners]) {
      try {
        listener(value);
      } catch (error) {
        this.#client.emit({ type: 'listener-failed', error });
      }
    }
  }

  close(): void {
    this.#closed = true;
    this.#listeners.clear();
    for (const queue of this.#queues) queue.end();
    this.#queues.clear();
  }
}
