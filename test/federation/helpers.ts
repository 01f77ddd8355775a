// Shared fixtures for the federation tests: a fake clock for watches, and assertions on fetch
// failures. Every wait is on an event (a request, a timer being scheduled, a rejection).
import assert from 'node:assert/strict';
import { BundleEndpointError, type BundleEndpointFailure } from '../../src/errors.js';
import type { BundleEndpointAuth, WatchClock } from '../../src/federation/index.js';
import type { BundleEndpointServer } from '../../src/testing/index.js';

/** https_web auth that trusts the test server's own Web PKI root. */
export function webAuth(...servers: BundleEndpointServer[]): BundleEndpointAuth {
  return { profile: 'https_web', roots: servers.map((s) => s.webRootPem ?? '') };
}

/** Awaits a rejection and checks it is a BundleEndpointError with `reason`. */
export async function failure(
  promise: Promise<unknown>,
  reason: BundleEndpointFailure,
): Promise<BundleEndpointError> {
  const err = await promise.then(
    () => assert.fail(`expected a "${reason}" failure, but it succeeded`),
    (e: unknown) => e,
  );
  return assertFailure(err, reason);
}

/** Checks that `err` is a BundleEndpointError with `reason`. */
export function assertFailure(err: unknown, reason: BundleEndpointFailure): BundleEndpointError {
  assert.ok(err instanceof BundleEndpointError, `not a BundleEndpointError: ${String(err)}`);
  assert.equal(err.reason, reason, err.message);
  return err;
}

/** Awaits a rejection and returns what it rejected with. */
export async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => assert.fail('expected a rejection'),
    (e: unknown) => e,
  );
}

interface Timer {
  readonly id: number;
  readonly at: number;
  readonly ms: number;
  readonly fn: () => void;
}

/**
 * A manual clock: timers fire only when the test calls `fire()`. `scheduled` lists every delay a
 * watch asked for, in order; `waitForTimer(n)` resolves once n timers were scheduled, which is
 * how a test knows that a fetch was completely processed.
 */
export class FakeClock implements WatchClock {
  readonly scheduled: number[] = [];
  #now = 1_700_000_000_000;
  #nextId = 1;
  readonly #pending = new Map<number, Timer>();
  readonly #waiters = new Set<() => void>();

  now(): number {
    return this.#now;
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const timer = { id: this.#nextId++, at: this.#now + ms, ms, fn };
    this.#pending.set(timer.id, timer);
    this.scheduled.push(ms);
    for (const wake of [...this.#waiters]) wake();
    return timer.id;
  }

  clearTimeout(handle: unknown): void {
    this.#pending.delete(handle as number);
  }

  /** How many timers are waiting to fire. */
  get pending(): number {
    return this.#pending.size;
  }

  /** Resolves with the delay of the `count`-th scheduled timer once it exists. */
  waitForTimer(count: number): Promise<number> {
    return new Promise((resolve) => {
      const check = (): void => {
        const ms = this.scheduled[count - 1];
        if (ms === undefined) return;
        this.#waiters.delete(check);
        resolve(ms);
      };
      this.#waiters.add(check);
      check();
    });
  }

  /** Advances to the one pending timer and runs it. */
  fire(): void {
    assert.equal(this.#pending.size, 1, 'exactly one timer must be pending');
    const [timer] = this.#pending.values();
    assert.ok(timer !== undefined);
    this.#pending.delete(timer.id);
    this.#now = timer.at;
    timer.fn();
  }
}
