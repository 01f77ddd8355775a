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
      readonly type: 'stream-opened';
      readonly method: WorkloadApiRpc;
      readonly attempt: number;
    }
  | { readonly type: 'update-received'; readonly method: WorkloadApiRpc }
  | {
      readonly type: 'response-rejected';
      readonly method: WorkloadApiRpc;
      readonly error: InvalidWorkloadApiResponseError;
    }
  | {
      readonly type: 'stream-failed';
      readonly method: WorkloadApiRpc;
      readonly error: WorkloadApiError;
      readonly retryInMs: number;
      readonly identityWithdrawn: boolean;
    }
  | {
      readonly type: 'watch-stopped';
      readonly method: WorkloadApiRpc;
      readonly error: WorkloadApiError | undefined;
    }
  | { readonly type: 'call-failed'; readonly method: WorkloadApiRpc; readonly error: SpiffeError }
  | { readonly type: 'listener-failed'; readonly error: unknown };
