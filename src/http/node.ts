import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { InvalidArgumentError, JwtSvidAuthError } from '../errors.js';
import {
  type JwtSvidAuthenticator,
  type JwtSvidAuthenticatorOptions,
  type JwtSvidAuthResult,
  toAuthenticator,
} from './authenticator.js';
import type { RequestHeaders } from './bearer.js';
import { refusalBody } from './challenge.js';

/** The caller of each request a wrapper or middleware let through. */
const callers = new WeakMap<object, JwtSvidAuthResult>();

/**
 * The caller that {@link withJwtSvidAuth} (or the Express middleware of `spiffe-sdk/express`)
 * authenticated for `req`, or `undefined` for a request that did not pass through one.
 *
 * @example
 * ```ts
 * const handler = withJwtSvidAuth(authenticator, (req, res) => {
 *   res.end(`hello ${jwtSvidOf(req)?.id.toString()}`);
 * });
 * ```
 */
export function jwtSvidOf(req: object): JwtSvidAuthResult | undefined {
  return callers.get(req);
}

/** Records the caller of `req` for {@link jwtSvidOf}. */
export function rememberCaller(req: object, caller: JwtSvidAuthResult): void {
  callers.set(req, caller);
}

/**
 * The headers of a Node request with every `Authorization` value: `req.headers` keeps only the
 * first of several, `req.headersDistinct` keeps all (Node ≥ 18.3; request objects that are not
 * real `IncomingMessage`s, such as Fastify's `inject`, may lack it).
 */
export function distinctHeaders(req: {
  readonly headers: IncomingHttpHeaders;
  readonly headersDistinct?: NodeJS.Dict<string[]>;
}): RequestHeaders {
  return req.headersDistinct ?? req.headers;
}

/**
 * Options of {@link withJwtSvidAuth}.
 *
 * @example
 * ```ts
 * const options: WithJwtSvidAuthOptions = { onError: (err, req) => log.error(req.url, err) };
 * ```
 */
export interface WithJwtSvidAuthOptions {
  /**
   * Called when the handler throws or rejects, or the authenticator fails with something other
   * than a refusal (possible with an authenticator of your own); the client gets a 500, or a
   * reset connection when the response had already started. Default: `console.error`. Must not
   * throw.
   */
  readonly onError?: (error: Error, req: IncomingMessage) => void;
}

const INTERNAL_ERROR = JSON.stringify({ status: 500, error_description: 'internal server error' });

function defaultOnError(error: Error, req: IncomingMessage): void {
  console.error(`withJwtSvidAuth: ${req.method ?? ''} ${req.url ?? ''} failed:`, error);
}

/** Answers a refused request: status, challenge and a small JSON body. */
function refuse(res: ServerResponse, err: JwtSvidAuthError): void {
  const body = JSON.stringify(refusalBody(err));
  res.writeHead(err.status, {
    'www-authenticate': err.wwwAuthenticate,
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}

/**
 * Wraps a `node:http` (or `https`) request handler so that it only runs for requests with a valid
 * JWT-SVID that the authenticator's authorizer allows (see {@link createJwtSvidAuthenticator}).
 * A refused request gets the refusal's status (401 or 403), its `WWW-Authenticate` challenge and
 * a JSON body `{ status, error?, error_description }`, and the handler is not called. An allowed
 * request's caller is available from {@link jwtSvidOf}.
 *
 * Requests are read through `req.headersDistinct`, so a request with two `Authorization` headers
 * is refused (`req.headers` would silently keep the first). A handler that throws or rejects
 * never becomes an unhandled rejection: it is reported to `options.onError` and answered with 500
 * (or the connection is reset if the response had started).
 *
 * Bearer tokens must travel over TLS (RFC 6750 §5.3, JWT-SVID §6.3): serve this with `https`
 * (for example `createHttpsServer` of `spiffe-sdk/tls`) unless a trusted proxy terminates TLS.
 *
 * @example
 * ```ts
 * import https from 'node:https';
 * import { createJwtSvidAuthenticator, jwtSvidOf, withJwtSvidAuth } from 'spiffe-sdk/http';
 *
 * const authenticator = createJwtSvidAuthenticator({ bundleSource: jwtSource, audience: 'reports' });
 * https
 *   .createServer(tlsOptions, withJwtSvidAuth(authenticator, (req, res) => {
 *     res.end(`hello ${jwtSvidOf(req)?.id.toString()}`);
 *   }))
 *   .listen(8443);
 * ```
 */
export function withJwtSvidAuth<
  Req extends IncomingMessage = IncomingMessage,
  Res extends ServerResponse = ServerResponse,
>(
  authenticator: JwtSvidAuthenticator | JwtSvidAuthenticatorOptions,
  handler: (req: Req, res: Res) => unknown,
  options: WithJwtSvidAuthOptions = {},
): (req: Req, res: Res) => void {
  const what = 'withJwtSvidAuth';
  const auth = toAuthenticator(authenticator, what);
  if (typeof handler !== 'function') {
    throw new InvalidArgumentError(`${what}: handler must be a function`);
  }
  const { onError = defaultOnError } = options;
  if (typeof onError !== 'function') {
    throw new InvalidArgumentError(`${what}: onError must be a function`);
  }

  return (req, res) => {
    const fail = (err: unknown): void => {
      try {
        onError(err instanceof Error ? err : new Error(String(err)), req);
      } catch {
        // A failing log hook must not break the server.
      }
      if (!res.headersSent) {
        // Whatever the handler had set (a content-length, say) does not describe this answer.
        for (const name of res.getHeaderNames()) res.removeHeader(name);
        res.writeHead(500, {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(INTERNAL_ERROR),
        });
        res.end(INTERNAL_ERROR);
      } else if (!res.writableEnded) {
        res.destroy();
      }
    };
    const run = (caller: JwtSvidAuthResult): void => {
      callers.set(req, caller);
      let result: unknown;
      try {
        result = handler(req, res);
      } catch (err) {
        fail(err);
        return;
      }
      if (typeof (result as { then?: unknown } | null)?.then === 'function') {
        void Promise.resolve(result).then(undefined, fail);
      }
    };
    void auth.authenticate(distinctHeaders(req)).then(run, (err: unknown) => {
      if (err instanceof JwtSvidAuthError) refuse(res, err);
      else fail(err);
    });
  };
}
