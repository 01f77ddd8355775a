import type { IncomingMessage, ServerResponse } from 'node:http';
import type { SpiffeBundleSource } from '../bundle/source.js';
import type { SpiffeBundle } from '../bundle/spiffe-bundle.js';
import { InvalidArgumentError, InvalidBundleError } from '../errors.js';
import type { TrustDomain } from '../spiffeid/index.js';
import { toTrustDomain } from './args.js';

/**
 * Options of {@link bundleEndpointHandler}.
 *
 * @example
 * ```ts
 * const options: BundleEndpointHandlerOptions = { onError: (err) => log.error(err.message) };
 * ```
 */
export interface BundleEndpointHandlerOptions {
  /**
   * Called when the bundle cannot be served (the source throws or the bundle cannot be
   * marshalled); the client only gets a generic 500. Must not throw.
   */
  readonly onError?: (error: Error) => void;
}

/**
 * A Node HTTP request listener (for `http`, `https` and express-style servers).
 *
 * @example
 * ```ts
 * const listener: BundleEndpointRequestListener = bundleEndpointHandler('example.org', source);
 * app.get('/bundle', listener); // express
 * ```
 */
export type BundleEndpointRequestListener = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * A request listener that serves the SPIFFE bundle of `trustDomain` from `source` (SPIFFE
 * Federation §5.2.1.3, §5.2.2.3), asking the source on every request so the answer is always the
 * current bundle. It does not authenticate clients (the standard forbids requiring it) and serves
 * every path it is mounted on; TLS is the server's job (see {@link createBundleEndpointServer}).
 *
 * - `GET`: 200 with the bundle's JSON (`SpiffeBundle.marshal()`, UTF-8), `Content-Type:
 *   application/json`, `Content-Length`, `X-Content-Type-Options: nosniff`, and `Cache-Control:
 *   max-age=<refresh hint>` (or `no-cache` when the bundle has no refresh hint), so that caches in
 *   front of the endpoint never hold a bundle longer than consumers are told to keep it.
 * - `HEAD`: the same status and headers without the body (RFC 9110 §9.3.2).
 * - any other method: 405 with `Allow: GET, HEAD`.
 * - the source throws, returns another trust domain's bundle, or the bundle cannot be marshalled:
 *   500 with a generic body and `options.onError(error)`; no detail reaches the client.
 *
 * @example
 * ```ts
 * import https from 'node:https';
 * import { bundleEndpointHandler } from 'spiffe-sdk/federation';
 *
 * https.createServer({ key, cert }, bundleEndpointHandler('example.org', x509Source)).listen(8443);
 * ```
 */
export function bundleEndpointHandler(
  trustDomain: TrustDomain | string,
  source: SpiffeBundleSource,
  options: BundleEndpointHandlerOptions = {},
): BundleEndpointRequestListener {
  const what = 'bundleEndpointHandler';
  const td = toTrustDomain(trustDomain, what);
  if (
    typeof (source as Partial<SpiffeBundleSource> | null)?.getBundleForTrustDomain !== 'function'
  ) {
    throw new InvalidArgumentError(`${what}: source must be a SpiffeBundleSource`);
  }
  const { onError } = options;
  if (onError !== undefined && typeof onError !== 'function') {
    throw new InvalidArgumentError(`${what}: onError must be a function`);
  }
  const report = (error: unknown): void => {
    try {
      onError?.(error instanceof Error ? error : new Error(String(error)));
    } catch {
      // A failing log hook must not break the endpoint.
    }
  };
  return (req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' });
      res.end('method not allowed\n');
      return;
    }
    let bundle: SpiffeBundle;
    let body: string;
    try {
      bundle = source.getBundleForTrustDomain(td);
      if (!bundle.trustDomain.equals(td)) {
        throw new InvalidBundleError(
          `the source returned the bundle of "${bundle.trustDomain.name}" for "${td.name}"`,
        );
      }
      body = bundle.marshal();
    } catch (err) {
      report(err);
      res.writeHead(500, {
        'content-type': 'text/plain; charset=utf-8',
        'cache-control': 'no-store',
      });
      res.end(`unable to serve the bundle of "${td.name}"\n`);
      return;
    }
    res.writeHead(200, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
      'cache-control':
        bundle.refreshHint === undefined ? 'no-cache' : `max-age=${bundle.refreshHint}`,
      'x-content-type-options': 'nosniff',
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  };
}
