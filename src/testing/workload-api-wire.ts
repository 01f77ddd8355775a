// The Workload API messages as plain objects, so that tests can read and rewrite exactly what the
// in-process server puts on the wire without depending on the generated protobuf code (which is
// not public API). Field names are the generated (camelCase) names of proto/workload.proto.
import type * as gen from '../workloadapi/gen/workload.js';

/**
 * One `X509SVID` entry of a `FetchX509SVID` response, as sent on the wire.
 *
 * @example
 * ```ts
 * server.rewriteResponses('FetchX509SVID', (r) => {
 *   const first: WireX509Svid | undefined = r.svids[0];
 *   if (first) first.hint = 'external';
 *   return r;
 * });
 * ```
 */
export interface WireX509Svid {
  /** `spiffe_id` (1): the SVID's SPIFFE ID. */
  spiffeId: string;
  /** `x509_svid` (2): the DER certificate chain, leaf first. */
  x509Svid: Uint8Array;
  /** `x509_svid_key` (3): the PKCS#8 DER private key. */
  x509SvidKey: Uint8Array;
  /** `bundle` (4): concatenated DER CA certificates of the SVID's trust domain. */
  bundle: Uint8Array;
  /** `hint` (5): the operator's hint, or `''`. */
  hint: string;
}

/**
 * A `FetchX509SVID` stream message (`X509SVIDResponse`), as sent on the wire.
 *
 * @example
 * ```ts
 * // Swap the first two SVIDs so that the "default" identity changes.
 * server.rewriteResponses('FetchX509SVID', (r: WireX509SvidResponse) => ({ ...r, svids: r.svids.reverse() }));
 * ```
 */
export interface WireX509SvidResponse {
  /** `svids` (1). */
  svids: WireX509Svid[];
  /** `crl` (2): DER certificate revocation lists. */
  crl: Uint8Array[];
  /** `federated_bundles` (3): concatenated DER CA certificates keyed by trust-domain SPIFFE ID. */
  federatedBundles: Record<string, Uint8Array>;
}

/**
 * A `FetchX509Bundles` stream message (`X509BundlesResponse`), as sent on the wire.
 *
 * @example
 * ```ts
 * server.rewriteResponses('FetchX509Bundles', (r: WireX509BundlesResponse) => {
 *   delete r.bundles['spiffe://partner.org'];
 *   return r;
 * });
 * ```
 */
export interface WireX509BundlesResponse {
  /** `crl` (1): DER certificate revocation lists. */
  crl: Uint8Array[];
  /** `bundles` (2): concatenated DER CA certificates keyed by trust-domain SPIFFE ID. */
  bundles: Record<string, Uint8Array>;
}

/**
 * One `JWTSVID` entry of a `FetchJWTSVID` response, as sent on the wire.
 *
 * @example
 * ```ts
 * server.rewriteResponses('FetchJWTSVID', (r) => {
 *   r.svids.forEach((s: WireJwtSvid) => (s.hint = ''));
 *   return r;
 * });
 * ```
 */
export interface WireJwtSvid {
  /** `spiffe_id` (1): the token's subject. */
  spiffeId: string;
  /** `svid` (2): the token (JWS compact serialization). */
  svid: string;
  /** `hint` (3): the operator's hint, or `''`. */
  hint: string;
}

/**
 * A `FetchJWTSVID` answer (`JWTSVIDResponse`), as sent on the wire.
 *
 * @example
 * ```ts
 * server.rewriteResponses('FetchJWTSVID', (r: WireJwtSvidResponse) => ({ svids: r.svids.slice(0, 1) }));
 * ```
 */
export interface WireJwtSvidResponse {
  /** `svids` (1). */
  svids: WireJwtSvid[];
}

/**
 * A `FetchJWTBundles` stream message (`JWTBundlesResponse`), as sent on the wire.
 *
 * @example
 * ```ts
 * server.rewriteResponses('FetchJWTBundles', (r: WireJwtBundlesResponse) => {
 *   r.bundles['spiffe://partner.org'] = new TextEncoder().encode('{"keys":[]}');
 *   return r;
 * });
 * ```
 */
export interface WireJwtBundlesResponse {
  /** `bundles` (1): JWKS documents (UTF-8 JSON bytes) keyed by trust-domain SPIFFE ID. */
  bundles: Record<string, Uint8Array>;
}

/**
 * A `ValidateJWTSVID` answer (`ValidateJWTSVIDResponse`), as sent on the wire.
 *
 * @example
 * ```ts
 * server.rewriteResponses('ValidateJWTSVID', (r: WireValidateJwtSvidResponse) => ({
 *   ...r,
 *   spiffeId: 'spiffe://example.org/someone-else',
 * }));
 * ```
 */
export interface WireValidateJwtSvidResponse {
  /** `spiffe_id` (1): the validated token's subject. */
  spiffeId: string;
  /** `claims` (2): the token's claims (a `google.protobuf.Struct`). */
  claims: Record<string, unknown>;
}

/**
 * The wire message type each Workload API method answers with, by method name.
 *
 * @example
 * ```ts
 * const rewrite = (r: WorkloadApiResponses['FetchJWTSVID']) => r;
 * server.rewriteResponses('FetchJWTSVID', rewrite);
 * ```
 */
export interface WorkloadApiResponses {
  /** Each `FetchX509SVID` stream message. */
  FetchX509SVID: WireX509SvidResponse;
  /** Each `FetchX509Bundles` stream message. */
  FetchX509Bundles: WireX509BundlesResponse;
  /** The `FetchJWTSVID` answer. */
  FetchJWTSVID: WireJwtSvidResponse;
  /** Each `FetchJWTBundles` stream message. */
  FetchJWTBundles: WireJwtBundlesResponse;
  /** The `ValidateJWTSVID` answer. */
  ValidateJWTSVID: WireValidateJwtSvidResponse;
}

// Buffer views over the same memory: the generated encoders only need Uint8Array at run time,
// but their declared field type is Buffer.
function buf(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
}

function bufMap(map: Record<string, Uint8Array>): Record<string, Buffer> {
  const out: Record<string, Buffer> = {};
  for (const [k, v] of Object.entries(map)) out[k] = buf(v);
  return out;
}

/** @internal Converts a wire object to the generated message type. */
export function toGenX509SvidResponse(r: WireX509SvidResponse): gen.X509SVIDResponse {
  return {
    svids: r.svids.map((s) => ({
      spiffeId: s.spiffeId,
      x509Svid: buf(s.x509Svid),
      x509SvidKey: buf(s.x509SvidKey),
      bundle: buf(s.bundle),
      hint: s.hint,
    })),
    crl: r.crl.map(buf),
    federatedBundles: bufMap(r.federatedBundles),
  };
}

/** @internal Converts a wire object to the generated message type. */
export function toGenX509BundlesResponse(r: WireX509BundlesResponse): gen.X509BundlesResponse {
  return { crl: r.crl.map(buf), bundles: bufMap(r.bundles) };
}

/** @internal Converts a wire object to the generated message type. */
export function toGenJwtSvidResponse(r: WireJwtSvidResponse): gen.JWTSVIDResponse {
  return { svids: r.svids.map((s) => ({ spiffeId: s.spiffeId, svid: s.svid, hint: s.hint })) };
}

/** @internal Converts a wire object to the generated message type. */
export function toGenJwtBundlesResponse(r: WireJwtBundlesResponse): gen.JWTBundlesResponse {
  return { bundles: bufMap(r.bundles) };
}

/** @internal Converts a wire object to the generated message type. */
export function toGenValidateJwtSvidResponse(
  r: WireValidateJwtSvidResponse,
): gen.ValidateJWTSVIDResponse {
  return { spiffeId: r.spiffeId, claims: r.claims };
}
