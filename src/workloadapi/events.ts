import type { InvalidWorkloadApiResponseError, SpiffeError, WorkloadApiError } from '../errors.js';

/**
 * The RPCs of the SPIFFE Workload API (X.509-SVID and JWT-SVID profiles), by their proto names.
 *
 * @example
 * ```ts
 * const rpc: WorkloadApiRpc = 'FetchX509SVID';
 * ```
 */
export type WorkloadApiRpc =
  'FetchX509SVID' | 'FetchX509Bundles' | 'FetchJWTSVID' | 'FetchJWTBundles' | 'ValidateJWTSVID';

/**
 * What a {@link WorkloadApiClient} (and every source built on it) reports to its `onEvent` hook,
 * for logs and metrics. Events carry SPIFFE IDs, status codes and error messages, never private
 * keys or tokens.
 *
 * | type | when |
 * |---|---|
 * | `stream-opened` | a watch (re)opens its stream; `attempt` counts from 1 since the last good message |
 * | `update-received` | a watch accepted a response |
 * | `response-rejected` | a watch discarded a response that breaks the standard (the last good material stays) |
 * | `stream-failed` | a watch's stream ended; it reconnects after `retryInMs`; `identityWithdrawn` is true for `PermissionDenied` |
 * | `watch-stopped` | a watch ended: closed or aborted (`error` undefined), or a status that must not be retried (`InvalidArgument`, `Unimplemented`) |
 * | `call-failed` | a one-shot call (fetch or validate) failed |
 * | `listener-failed` | a source's update listener threw (the source carries on) |
 *
 * @example
 * ```ts
 * const client = new WorkloadApiClient({
 *   onEvent(event) {
 *     if (event.type === 'stream-failed') log.warn(`${event.method}: ${event.error.message}; retry in ${event.retryInMs} ms`);
 *   },
 * });
 * ```
 */
export type WorkloadApiEvent =
  | {
      /** A watch (re)opened its stream. */
      readonly type: 'stream-opened';
      /** The RPC. */
      readonly method: WorkloadApiRpc;
      /** Attempts since the last good message, from 1. */
      readonly attempt: number;
    }
  | {
      /** A watch accepted a response. */
      readonly type: 'update-received';
      /** The RPC. */
      readonly method: WorkloadApiRpc;
    }
  | {
      /** A watch discarded a response that breaks the standard. */
      readonly type: 'response-rejected';
      /** The RPC. */
      readonly method: WorkloadApiRpc;
      /** Why the response was discarded. */
      readonly error: InvalidWorkloadApiResponseError;
    }
  | {
      /** A watch's stream ended and will reconnect. */
      readonly type: 'stream-failed';
      /** The RPC. */
      readonly method: WorkloadApiRpc;
      /** The status the stream ended with. */
      readonly error: WorkloadApiError;
      /** How long the watch waits before reconnecting. */
      readonly retryInMs: number;
      /** Whether the identity was withdrawn (`PermissionDenied`). */
      readonly identityWithdrawn: boolean;
    }
  | {
      /** A watch ended for good. */
      readonly type: 'watch-stopped';
      /** The RPC. */
      readonly method: WorkloadApiRpc;
      /** The status that must not be retried, or undefined when closed or aborted. */
      readonly error: WorkloadApiError | undefined;
    }
  | {
      /** A one-shot call failed. */
      readonly type: 'call-failed';
      /** The RPC. */
      readonly method: WorkloadApiRpc;
      /** The failure. */
      readonly error: SpiffeError;
    }
  | {
      /** A source's update listener threw; the source carries on. */
      readonly type: 'listener-failed';
      /** What the listener threw. */
      readonly error: unknown;
    };
