/**
 * SPIFFE Federation: fetch and watch the SPIFFE bundles of other trust domains from their bundle
 * endpoints, and serve your own, over both endpoint profiles of the standard (`https_web`,
 * authenticated with the Web PKI, and `https_spiffe`, authenticated with an X509-SVID). The
 * counterpart of go-spiffe's `federation` package, with the status, content type, size, redirect
 * and refresh rules that go-spiffe leaves to the caller. See docs/federation.md.
 *
 * @example
 * ```ts
 * import { createBundleEndpointServer, watchBundle } from 'spiffe-sdk/federation';
 * import { X509Source } from 'spiffe-sdk/workloadapi';
 *
 * // Serve example.org's bundle, authenticated with the workload's X509-SVID.
 * const source = await X509Source.create();
 * const endpoint = createBundleEndpointServer({
 *   profile: 'https_spiffe',
 *   trustDomain: 'example.org',
 *   bundleSource: source,
 *   x509Source: source,
 * });
 * await endpoint.listen(8443);
 *
 * // Keep partner.org's bundle up to date from its endpoint.
 * const partner = watchBundle('partner.org', 'https://bundle.partner.example:8443/', {
 *   auth: {
 *     profile: 'https_spiffe',
 *     endpointId: 'spiffe://partner.org/bundle-endpoint',
 *     bundleSource: partnerBootstrapBundle, // exchanged out of band
 *   },
 * });
 * for await (const bundle of partner) console.log('partner.org now has', bundle.x509Authorities.length, 'CAs');
 * ```
 *
 * @module federation
 */
export { type BundleEndpointAuth, type FetchBundleOptions, fetchBundle } from './fetch.js';
export {
  type BundleWatch,
  type WatchBundleOptions,
  type WatchClock,
  watchBundle,
} from './watch.js';
export {
  type BundleEndpointHandlerOptions,
  type BundleEndpointRequestListener,
  bundleEndpointHandler,
} from './handler.js';
export {
  type BundleEndpointHttpsServer,
  type BundleEndpointServerCommonOptions,
  type BundleEndpointServerOptions,
  createBundleEndpointServer,
} from './server.js';
export {
  BundleEndpointError,
  type BundleEndpointFailure,
  BundleNotFoundError,
  ClosedError,
  InvalidArgumentError,
  SpiffeError,
} from '../errors.js';
