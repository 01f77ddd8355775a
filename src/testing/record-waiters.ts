// Promises for "the first record that matches", shared by the kit's servers (the Workload API
// server's calls, the bundle endpoint server's requests) so tests wait for an observable event
// instead of sleeping. Internal.

interface Waiter {
  check(): void;
  fail(error: Error): void;
}

/** Waiters over a growing list of records, read through `records` each time it may have changed. */
export class RecordWaiters<T> {
  readonly #records: () => readonly T[];
  readonly #waiters = new Set<Waiter>();

  constructor(records: () => readonly T[]) {
    this.#records = records;
  }

  /**
   * Resolves with the first record (present or still to come) for which `predicate` holds;
   * rejects when `signal` aborts, when `predicate` throws, or on {@link RecordWaiters.failAll}.
   */
  wait(predicate: (record: T) => boolean, signal: AbortSignal | undefined): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (signal?.aborted === true) {
        reject(signal.reason as Error);
        return;
      }
      const done = (): void => {
        this.#waiters.delete(waiter);
        signal?.removeEventListener('abort', onAbort);
      };
      const waiter: Waiter = {
        check: () => {
          let found: T | undefined;
          try {
            found = this.#records().find(predicate);
          } catch (err) {
            waiter.fail(err instanceof Error ? err : new Error(String(err)));
            return;
          }
          if (found === undefined) return;
          done();
          resolve(found);
        },
        fail: (error) => {
          done();
          reject(error);
        },
      };
      const onAbort = (): void => {
        waiter.fail(signal?.reason as Error);
      };
      this.#waiters.add(waiter);
      signal?.addEventListener('abort', onAbort, { once: true });
      waiter.check();
    });
  }

  /** Re-checks every waiter; call after the records changed. */
  notify(): void {
    for (const waiter of [...this.#waiters]) waiter.check();
  }

  /** Rejects every waiter with `error` (the records can no longer change). */
  failAll(error: Error): void {
    for (const waiter of [...this.#waiters]) waiter.fail(error);
  }
}
