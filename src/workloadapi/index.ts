/**
 * The SPIFFE Workload API client: fetch and watch X509-SVIDs, JWT-SVIDs and trust bundles from the
 * local agent (e.g. SPIRE), and sources that keep them up to date with automatic rotation.
 *
 * - {@link WorkloadApiClient}: every RPC, one-shot or as a watch (async iterable).
 * - {@link X509Source}: the workload's X509-SVID and X.509 bundles, for TLS.
 * - {@link JwtSource}: cached JWT-SVIDs and the JWT bundles.
 * - {@link BundleSource}: X.509 and JWT bundles only, for workloads that only verify.
 *
 * The endpoint comes from the `address` option or `SPIFFE_ENDPOINT_SOCKET`.
 *
 * @example
 * ```ts
 * import { X509Source } from 'spiffe-sdk/workloadapi';
 *
 * await using source = await X509Source.create({ timeout: 30_000 });
 * console.log(source.getX509Svid().id.toString());
 * source.onUpdate(({ svid }) => console.log('rotated', svid?.expiresAt));
 * ```
 *
 * @module workloadapi
 */
export {
  SPIFFE_ENDPOINT_SOCKET,
  getDefaultEndpointAddress,
  parseEndpointAddress,
  resolveEndpointAddress,
  type EndpointAddress,
  type ParseEndpointAddressOptions,
} from './address.js';
export {
  exponentialBackoff,
  linearBackoff,
  type Backoff,
  type BackoffStrategy,
  type ExponentialBackoffOptions,
} from './backoff.js';
export {
  WorkloadApiClient,
  type CallOptions,
  type WatchOptions,
  type WorkloadApiClientOptions,
} from './client.js';
export type { WorkloadApiEvent, WorkloadApiRpc } from './events.js';
export { X509Context } from './x509-context.js';
export {
  X509Source,
  type X509SourceOptions,
  type X509SourceSnapshot,
  type X509SvidPicker,
} from './x509-source.js';
export { JwtSource, type JwtSourceOptions, type JwtSourceSnapshot } from './jwt-source.js';
export {
  BundleSource,
  type BundleSourceOptions,
  type BundleSourceSnapshot,
} from './bundle-source.js';
export type { SourceState, SourceStatus } from './source-status.js';
export {
  BundleNotFoundError,
  ClosedError,
  InvalidArgumentError,
  InvalidEndpointAddressError,
  InvalidWorkloadApiResponseError,
  NoIdentityError,
  SourceTimeoutError,
  SpiffeError,
  WorkloadApiError,
  type EndpointAddressRule,
  type NoIdentityReason,
} from '../errors.js';
