import type { SpiffeError } from '../errors.js';

/**
 * The health of a Workload API source.
 *
 * | state | meaning |
 * |---|---|
 * | `starting` | no update yet and no failure yet |
 * | `ready` | the last stream delivered material and is open |
 * | `reconnecting` | the stream ended or the agent is unavailable; the source retries with backoff and keeps serving its last material |
 * | `no-identity` | the agent answered `PermissionDenied`: the material was withdrawn (Workload API §5.2.1); the source retries with backoff |
 * | `failed` | the agent answered a status that must not be retried (`InvalidArgument`, `Unimplemented`); the source keeps its last material but gets no more updates |
 * | `closed` | `close()` was called |
 *
 * @example
 * ```ts
 * const healthy = (s: SourceState) => s === 'ready' || s === 'reconnecting';
 * ```
 */
export type SourceState =
  'starting' | 'ready' | 'reconnecting' | 'no-identity' | 'failed' | 'closed';

/**
 * A snapshot of a source's health, for health checks and dashboards.
 *
 * @example
 * ```ts
 * app.get('/healthz', (_req, res) => {
 *   const status = source.status();
 *   res.status(status.state === 'ready' ? 200 : 503).json({
 *     state: status.state,
 *     lastUpdate: status.lastUpdate,
 *     lastError: status.lastError?.message,
 *   });
 * });
 * ```
 */
export interface SourceStatus {
  /** See {@link SourceState}. */
  readonly state: SourceState;
  /** When the source last received a valid response (changed or not). */
  readonly lastUpdate: Date | undefined;
  /** The last stream failure or rejected response (cleared by nothing: check `lastErrorAt`). */
  readonly lastError: SpiffeError | undefined;
  /** When `lastError` happened. */
  readonly lastErrorAt: Date | undefined;
  /** How many times the material changed since the source was created. */
  readonly updates: number;
}

const SEVERITY: Readonly<Record<SourceState, number>> = {
  ready: 0,
  starting: 1,
  reconnecting: 2,
  'no-identity': 3,
  failed: 4,
  closed: 5,
};

/** The combined status of several streams: the worst state, the latest times. */
export function combineStatus(parts: readonly SourceStatus[]): SourceStatus {
  let state: SourceState = 'ready';
  let lastUpdate: Date | undefined;
  let lastError: SpiffeError | undefined;
  let lastErrorAt: Date | undefined;
  let updates = 0;
  for (const p of parts) {
    if (SEVERITY[p.state] > SEVERITY[state]) state = p.state;
    if (p.lastUpdate !== undefined && (lastUpdate === undefined || p.lastUpdate > lastUpdate)) {
      lastUpdate = p.lastUpdate;
    }
    if (
      p.lastErrorAt !== undefined &&
      (lastErrorAt === undefined || p.lastErrorAt >= lastErrorAt)
    ) {
      lastErrorAt = p.lastErrorAt;
      lastError = p.lastError;
    }
    updates += p.updates;
  }
  return Object.freeze({ state, lastUpdate, lastError, lastErrorAt, updates });
}
