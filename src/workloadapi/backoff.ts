import { InvalidArgumentError } from '../errors.js';

/**
 * One retry schedule: {@link Backoff.next} gives the delay before the next attempt,
 * {@link Backoff.reset} starts over (called when a stream delivers a valid message).
 *
 * @example
 * ```ts
 * const backoff = exponentialBackoff().newBackoff();
 * const delayMs = backoff.next();
 * ```
 */
export interface Backoff {
  /** The delay in milliseconds before the next attempt. */
  next(): number;
  /** Starts the schedule over. */
  reset(): void;
}

/**
 * Makes a fresh {@link Backoff} for each watch (go-spiffe's `BackoffStrategy`). Inject your own
 * (for example a constant 0-10 ms schedule) to make tests deterministic.
 *
 * @example
 * ```ts
 * const immediate: BackoffStrategy = { newBackoff: () => ({ next: () => 0, reset: () => {} }) };
 * const client = new WorkloadApiClient({ address, backoff: immediate });
 * ```
 */
export interface BackoffStrategy {
  /** A new, reset backoff schedule for one watch. */
  newBackoff(): Backoff;
}

/**
 * Options of {@link exponentialBackoff}.
 *
 * @example
 * ```ts
 * const options: ExponentialBackoffOptions = { initialDelayMs: 500, maxDelayMs: 10_000 };
 * ```
 */
export interface ExponentialBackoffOptions {
  /** The first delay, before jitter. Default 1000 ms. */
  readonly initialDelayMs?: number;
  /** The largest delay, before jitter. Default 30 000 ms (or `initialDelayMs` if larger). */
  readonly maxDelayMs?: number;
  /** How much each delay grows. Default 2. */
  readonly multiplier?: number;
  /**
   * The fraction of each delay that is random, 0 to 1: a delay `d` becomes a uniform value in
   * `[d * (1 - jitter), d]`. Default 0.5, so many workloads restarted together by the same agent
   * restart do not reconnect in lockstep.
   */
  readonly jitter?: number;
  /** Random numbers in [0, 1). Default `Math.random`; inject a fixed function in tests. */
  readonly random?: () => number;
}

function check(name: string, value: number, ok: boolean): number {
  if (!Number.isFinite(value) || !ok) {
    throw new InvalidArgumentError(`invalid backoff option ${name}: ${value}`);
  }
  return value;
}

/**
 * The default retry schedule: exponential with jitter. With the defaults the delays are about
 * 1, 2, 4, 8, 16, 30, 30, … seconds, each shortened by a random 0-50 %.
 *
 * @example
 * ```ts
 * import { exponentialBackoff, WorkloadApiClient } from 'spiffe-sdk/workloadapi';
 *
 * const client = new WorkloadApiClient({
 *   backoff: exponentialBackoff({ initialDelayMs: 200, maxDelayMs: 5_000 }),
 * });
 * ```
 */
export function exponentialBackoff(options: ExponentialBackoffOptions = {}): BackoffStrategy {
  const initial = options.initialDelayMs ?? 1000;
  const max = options.maxDelayMs ?? Math.max(30_000, initial);
  const multiplier = options.multiplier ?? 2;
  const jitter = options.jitter ?? 0.5;
  check('initialDelayMs', initial, initial >= 0);
  check('maxDelayMs (must be >= initialDelayMs)', max, max >= initial);
  check('multiplier', multiplier, multiplier >= 1);
  check('jitter', jitter, jitter >= 0 && jitter <= 1);
  const random = options.random ?? Math.random;
  return Object.freeze({
    newBackoff(): Backoff {
      let attempt = 0;
      return {
        next(): number {
          const base = Math.min(max, initial * multiplier ** attempt);
          if (base < max) attempt++;
          return Math.round(base * (1 - jitter * random()));
        },
        reset(): void {
          attempt = 0;
        },
      };
    },
  });
}

/**
 * go-spiffe's schedule: 1 s, 2 s, 3 s, … up to 30 s, no jitter. Offered for parity; the jittered
 * {@link exponentialBackoff} is the default.
 *
 * @example
 * ```ts
 * const client = new WorkloadApiClient({ backoff: linearBackoff() });
 * ```
 */
export function linearBackoff(
  options: { stepMs?: number; maxDelayMs?: number } = {},
): BackoffStrategy {
  const step = options.stepMs ?? 1000;
  const max = options.maxDelayMs ?? 30_000;
  check('stepMs', step, step >= 0);
  check('maxDelayMs (must be >= stepMs)', max, max >= step);
  return Object.freeze({
    newBackoff(): Backoff {
      let n = 0;
      return {
        next(): number {
          const delay = Math.min(max, step * (n + 1));
          if (delay < max) n++;
          return delay;
        },
        reset(): void {
          n = 0;
        },
      };
    },
  });
}
