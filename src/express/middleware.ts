// Only types come from express (erased at compile time): express is an optional peer dependency.
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { JwtSvidAuthError } from '../errors.js';
import {
  type JwtSvidAuthenticator,
  type JwtSvidAuthenticatorOptions,
  type JwtSvidAuthResult,
  toAuthenticator,
} from '../http/authenticator.js';
import { refusalBody } from '../http/challenge.js';
import { distinctHeaders, rememberCaller } from '../http/node.js';

declare global {
  // Express's own extension point for request properties (declaration merging).
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** The caller authenticated by `jwtSvidAuth` (`spiffe-sdk/express`); unset elsewhere. */
      spiffe?: JwtSvidAuthResult;
    }
  }
}

/**
 * Options of {@link jwtSvidAuth}.
 *
 * @example
 * ```ts
 * const options: JwtSvidAuthMiddlewareOptions = { forwardErrors: true };
 * ```
 */
export interface JwtSvidAuthMiddlewareOptions {
  /**
   * Pass refusals to `next(err)` (a `JwtSvidAuthError`, whose `status` and `headers` Express's
   * default error handler honours) instead of answering them. Default false.
   */
  readonly forwardErrors?: boolean;
}

/**
 * Express middleware that lets through only requests with a valid JWT-SVID in
 * `Authorization: Bearer` that the authorizer allows (see `createJwtSvidAuthenticator` in
 * `spiffe-sdk/http`, whose options it also takes). An allowed request gets `req.spiffe`
 * (`{ id, svid }`, also from `jwtSvidOf(req)`) and goes on to `next()`. A refused one is answered
 * with the refusal's status (401 or 403), its `WWW-Authenticate` challenge and a JSON body
 * `{ status, error?, error_description }`; with `forwardErrors` it goes to `next(err)` instead.
 * Any other failure (possible with an authenticator of your own) always goes to `next(err)`.
 *
 * Headers are read from `req.headersDistinct`, so two `Authorization` headers are refused.
 *
 * @example
 * ```ts
 * import express from 'express';
 * import { jwtSvidAuth } from 'spiffe-sdk/express';
 *
 * const app = express();
 * app.use('/api', jwtSvidAuth({ bundleSource: jwtSource, audience: 'spiffe://example.org/api' }));
 * app.get('/api/whoami', (req, res) => {
 *   res.json({ id: req.spiffe?.id.toString() });
 * });
 * ```
 */
export function jwtSvidAuth(
  authenticator: JwtSvidAuthenticator | JwtSvidAuthenticatorOptions,
  options: JwtSvidAuthMiddlewareOptions = {},
): RequestHandler {
  const auth = toAuthenticator(authenticator, 'jwtSvidAuth');
  const forward = options.forwardErrors === true;
  // Express 5 sends a rejection of the returned promise to next(err).
  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    let caller: JwtSvidAuthResult;
    try {
      caller = await auth.authenticate(distinctHeaders(req));
    } catch (err) {
      if (!(err instanceof JwtSvidAuthError) || forward) throw err;
      res.status(err.status).set('www-authenticate', err.wwwAuthenticate).json(refusalBody(err));
      return;
    }
    req.spiffe = caller;
    rememberCaller(req, caller);
    next();
  };
}
