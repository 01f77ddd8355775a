/**
 * The test kit: an in-process certificate authority (and, from other modules, a JWT authority and
 * a Workload API server) for testing applications that use spiffe-sdk. Not for production use.
 *
 * @example
 * ```ts
 * import { TestCA } from 'spiffe-sdk/testing';
 *
 * const ca = await TestCA.create({ trustDomain: 'example.org' });
 * const svid = await ca.issueX509Svid('spiffe://example.org/web');
 * ```
 *
 * @module testing
 */
export {
  TestCA,
  type TestCaCertificate,
  type CreateIntermediateOptions,
  type IssueX509SvidOptions,
  type KeyUsageName,
  type RawExtension,
  type RawX509Svid,
  type TestBasicConstraints,
  type TestCAOptions,
  type TestKeyType,
  type TestNameConstraints,
  type TestSignatureHash,
  type UncheckedKeyType,
  type UncheckedX509SvidOptions,
} from './test-ca.js';
export {
  JwtAuthority,
  type JwtAuthorityOptions,
  type MintJwtSvidOptions,
  type MintUncheckedOptions,
  type NumericDateInput,
  type UncheckedSigner,
} from './jwt-authority.js';
export {
  WorkloadApiServer,
  type JwtSvidMinter,
  type WorkloadApiCall,
  type WorkloadApiCallBase,
  type WorkloadApiCaller,
  type WorkloadApiFaultScope,
  type WorkloadApiIdentity,
  type WorkloadApiIdentityResolver,
  type WorkloadApiJwtSvid,
  type WorkloadApiMalformation,
  type WorkloadApiMethod,
  type WorkloadApiServerOptions,
  type WorkloadApiStatus,
} from './workload-api-server.js';
export type {
  WireJwtBundlesResponse,
  WireJwtSvid,
  WireJwtSvidResponse,
  WireValidateJwtSvidResponse,
  WireX509BundlesResponse,
  WireX509Svid,
  WireX509SvidResponse,
  WorkloadApiResponses,
} from './workload-api-wire.js';
export { DevAgent, type DevAgentOptions } from './dev-agent.js';
export {
  BundleEndpointServer,
  type BundleEndpointFault,
  type BundleEndpointRequest,
  type BundleEndpointServerCreateOptions,
} from './bundle-endpoint-server.js';
