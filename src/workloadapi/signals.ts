// Small AbortSignal helpers. Internal.

/** `err` if it is an Error (everything this SDK throws is), else an Error describing it. */
export function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(`non-error thrown: ${typeof err}`);
}

/** The reason an aborted signal carries, or a standard AbortError. */
export function abortReason(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  return reason instanceof Error
    ? reason
    : new DOMException('The operation was aborted', 'AbortError');
}

/**
 * A signal that aborts when any of `signals` does, plus `release()` to detach it from them once the
 * operation is over. Unlike `AbortSignal.any`, nothing stays attached to a long-lived signal (such
 * as a client's close signal) after `release()`.
 */
export function linkSignals(...signals: (AbortSignal | undefined)[]): {
  signal: AbortSignal;
  release: () => void;
} {
  const controller = new AbortController();
  const sources = signals.filter((s): s is AbortSignal => s !== undefined);
  const aborted = sources.find((s) => s.aborted);
  if (aborted !== undefined) {
    controller.abort(aborted.reason);
    return { signal: controller.signal, release: () => undefined };
  }
  const listeners = sources.map((source) => {
    const listener = (): void => {
      controller.abort(source.reason);
      release();
    };
    source.addEventListener('abort', listener, { once: true });
    return [source, listener] as const;
  });
  const release = (): void => {
    for (const [source, listener] of listeners) source.removeEventListener('abort', listener);
  };
  return { signal: controller.signal, release };
}

/**
 * `promise`, or a rejection with the signal's reason as soon as `signal` aborts. The underlying
 * operation is not cancelled (it may be shared with other callers).
 */
export function raceSignal<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise;
  if (signal.aborted) return Promise.reject(abortReason(signal));
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => {
      reject(abortReason(signal));
    };
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(asError(err));
      },
    );
  });
}

/** Waits `ms`, or less when `signal` aborts. The timer keeps the process alive, like a stream. */
export function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) {
      resolve();
      return;
    }
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, Math.max(0, ms));
    signal.addEventListener('abort', done, { once: true });
  });
}
