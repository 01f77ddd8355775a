// Only types come from fastify (erased at compile time): fastify is an optional peer dependency.
import type { FastifyInstance, FastifyPluginCallback, FastifyReply, FastifyRequest } from 'fastify';
import { JwtSvidAuthError } from '../errors.js';
import {
  type JwtSvidAuthenticator,
  type JwtSvidAuthenticatorOptions,
  type JwtSvidAuthResult,
  toAuthenticator,
} from '../http/authenticator.js';
import { refusalBody } from '../http/challenge.js';
import { distinctHeaders } from '../http/node.js';

declare module 'fastify' {
  interface FastifyRequest {
    /**
     * The caller authenticated by the `fastifyJwtSvidAuth` plugin (`spiffe-sdk/fastify`); unset
     * on routes outside its scope.
     */
    spiffe?: JwtSvidAuthResult;
  }
}

/**
 * Options of {@link fastifyJwtSvidAuth}: an authenticator (or the options to make one, see
 * `createJwtSvidAuthenticator` in `spiffe-sdk/http`) and how refusals are handled.
 *
 * @example
 * ```ts
 * const options: FastifyJwtSvidAuthOptions = { bundleSource: jwtSource, audience: 'reports' };
 * const shared: FastifyJwtSvidAuthOptions = { authenticator, forwardErrors: true };
 * ```
 */
export type FastifyJwtSvidAuthOptions = (
  | JwtSvidAuthenticatorOptions
  | {
      /** An authenticator to share, for example with other scopes or servers. */
      readonly authenticator: JwtSvidAuthenticator;
    }
) & {
  /**
   * Throw refusals into Fastify's error handling (a `JwtSvidAuthError`, whose `status` and
   * `headers` Fastify's default error handler honours) instead of answering them. Default false.
   */
  readonly forwardErrors?: boolean;
};

function register(
  fastify: FastifyInstance,
  options: FastifyJwtSvidAuthOptions,
  done: (err?: Error) => void,
): void {
  let auth: JwtSvidAuthenticator;
  try {
    auth = toAuthenticator(
      'authenticator' in options ? options.authenticator : options,
      'fastifyJwtSvidAuth',
    );
  } catch (err) {
    done(err as Error);
    return;
  }
  const forward = options.forwardErrors === true;
  if (!fastify.hasRequestDecorator('spiffe')) fastify.decorateRequest('spiffe', undefined);
  fastify.addHook(
    'onRequest',
    async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> => {
      try {
        request.spiffe = await auth.authenticate(distinctHeaders(request.raw));
        return undefined;
      } catch (err) {
        if (!(err instanceof JwtSvidAuthError) || forward) throw err;
        return reply
          .code(err.status)
          .header('www-authenticate', err.wwwAuthenticate)
          .send(refusalBody(err));
      }
    },
  );
  done();
}

/**
 * A Fastify plugin that lets through only requests with a valid JWT-SVID in
 * `Authorization: Bearer` that the authorizer allows, in an `onRequest` hook (before the body is
 * read). An allowed request gets `request.spiffe` (`{ id, svid }`); a refused one is answered with
 * the refusal's status (401 or 403), its `WWW-Authenticate` challenge and a JSON body
 * `{ status, error?, error_description }`, and the route handler does not run. With
 * `forwardErrors` the refusal is thrown to Fastify's error handling instead; any other failure
 * (possible with an authenticator of your own) always is.
 *
 * Like plugins wrapped in `fastify-plugin`, it is not encapsulated (`Symbol.for('skip-override')`):
 * the hook and the `spiffe` decorator apply to the scope that registers it, so registered at the
 * root it protects every route. To protect only some routes, register it inside a plugin of your
 * own that declares those routes.
 *
 * @example
 * ```ts
 * import Fastify from 'fastify';
 * import { fastifyJwtSvidAuth } from 'spiffe-sdk/fastify';
 *
 * const app = Fastify();
 * await app.register(async (api) => {
 *   await api.register(fastifyJwtSvidAuth, { bundleSource: jwtSource, audience: 'spiffe://example.org/api' });
 *   api.get('/api/whoami', async (request) => ({ id: request.spiffe?.id.toString() }));
 * });
 * app.get('/healthz', async () => 'ok'); // not protected
 * ```
 */
export const fastifyJwtSvidAuth: FastifyPluginCallback<FastifyJwtSvidAuthOptions> = Object.assign(
  register,
  {
    [Symbol.for('skip-override')]: true,
    [Symbol.for('fastify.display-name')]: 'spiffe-sdk-jwt-svid-auth',
  },
);
