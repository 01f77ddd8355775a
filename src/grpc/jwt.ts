import {
  CallCredentials,
  Metadata,
  ServerInterceptingCall,
  type ServerInterceptor,
  status,
} from '@grpc/grpc-js';
import { InvalidArgumentError, JwtSvidAuthError } from '../errors.js';
import {
  createJwtSvidAuthenticator,
  type JwtSvidAuthenticatorOptions,
} from '../http/authenticator.js';
import type { JwtSvid } from '../svid/jwt-svid.js';
import type { JwtSvidParams, JwtSvidSource } from '../svid/jwt-svid-source.js';
import { audienceOf } from '../workloadapi/client.js';
import { type GrpcServerCall, type Refusal, type RejectedCall, safely } from './peer.js';

/**
 * gRPC call credentials that add `authorization: Bearer <JWT-SVID>` to every call, with a token
 * for `params` from `source` (JWT-SVID §5.2). With a Workload API `JwtSource` the token is cached
 * and refreshed once half of its lifetime has passed, so calls do not wait for the Workload API.
 * A failed fetch fails the call (grpc-js reports `UNKNOWN` with the source's error message, which
 * never contains a token).
 *
 * Attach them to TLS channel credentials with `.compose(…)`. grpc-js refuses to compose call
 * credentials with insecure channel credentials, and a bearer token must not travel in clear
 * text: do not pass them as a per-call `credentials` option on an insecure channel either.
 *
 * @example
 * ```ts
 * const creds = mtlsClientCredentials(x509Source, authorizeId(apiId)).compose(
 *   jwtSvidCallCredentials(jwtSource, { audience: 'spiffe://example.org/api' }),
 * );
 * const client = new Greeter('api.internal:8443', creds);
 * ```
 */
export function jwtSvidCallCredentials(
  source: JwtSvidSource,
  params: JwtSvidParams,
): CallCredentials {
  if (
    typeof source !== 'object' ||
    (source as unknown) === null ||
    typeof source.fetchJwtSvid !== 'function'
  ) {
    throw new InvalidArgumentError('jwtSvidCallCredentials: the source has no fetchJwtSvid()');
  }
  audienceOf(params);
  const fixed: JwtSvidParams = Object.freeze({ ...params });
  return CallCredentials.createFromMetadataGenerator((_options, callback) => {
    source.fetchJwtSvid(fixed).then(
      (svid) => {
        const metadata = new Metadata();
        metadata.set('authorization', `Bearer ${svid.marshal()}`);
        callback(null, metadata);
      },
      (err: unknown) => {
        callback(err instanceof Error ? err : new Error(String(err)));
      },
    );
  });
}

/**
 * Options of {@link jwtSvidServerInterceptor}: those of `spiffe-sdk/http`'s
 * {@link JwtSvidAuthenticatorOptions} (the `JwtSvidValidator` options `bundleSource`, `audience`,
 * `requireAllAudiences`, `clockTolerance`, `now`, `maxEntries`, and the authorizer `authorize`)
 * without `realm`, which only HTTP challenges have, plus a hook for refusals.
 *
 * @example
 * ```ts
 * const options: JwtSvidServerInterceptorOptions = {
 *   bundleSource: jwtSource,
 *   audience: 'spiffe://example.org/api',
 *   authorize: (id) => id.path.startsWith('/ns/prod/'),
 * };
 * ```
 */
export interface JwtSvidServerInterceptorOptions extends Omit<
  JwtSvidAuthenticatorOptions,
  'realm'
> {
  /**
   * Called for every refused call with the reason (a `JwtSvidAuthError`, or what an unexpected
   * failure threw). For logs and metrics; must not throw.
   */
  readonly onReject?: (error: Error, call: RejectedCall) => void;
}

/** Validated JWT-SVIDs by the metadata object of their call (see peer.ts). */
const jwtSvids = new WeakMap<Metadata, JwtSvid>();

function jwtRefusal(err: unknown): Refusal {
  if (err instanceof JwtSvidAuthError) {
    // The description is fixed text per rule: it never repeats the token.
    return {
      code: err.reason === 'forbidden' ? status.PERMISSION_DENIED : status.UNAUTHENTICATED,
      details: err.description,
    };
  }
  return { code: status.UNAVAILABLE, details: 'the server cannot validate JWT-SVIDs now' };
}

/**
 * A grpc-js server interceptor that requires a JWT-SVID in the `authorization` metadata
 * (`Bearer <token>`, as sent by {@link jwtSvidCallCredentials}), validates it with a cached
 * `JwtSvidValidator` against `bundleSource` and `audience`, and applies `authorize`, before the
 * call reaches later interceptors or the handler (grpc-js holds the messages back meanwhile).
 * Missing, malformed or invalid tokens end the call with `UNAUTHENTICATED`; a valid token whose
 * caller `authorize` refuses, with `PERMISSION_DENIED`; the status details never contain the
 * token. Read the validated SVID in the handler with {@link jwtSvidFromCall}.
 *
 * Header parsing and validation are those of `spiffe-sdk/http`'s JWT-SVID authenticator
 * (RFC 6750 §2.1 bearer syntax).
 *
 * @example
 * ```ts
 * const server = new Server({
 *   interceptors: [jwtSvidServerInterceptor({ bundleSource: jwtSource, audience: 'spiffe://example.org/api' })],
 * });
 * ```
 */
export function jwtSvidServerInterceptor(
  options: JwtSvidServerInterceptorOptions,
): ServerInterceptor {
  const what = 'jwtSvidServerInterceptor';
  if (typeof options !== 'object' || (options as unknown) === null) {
    throw new InvalidArgumentError(`${what}: options must be an object`);
  }
  const { onReject, ...authOptions } = options;
  if (onReject !== undefined && typeof onReject !== 'function') {
    throw new InvalidArgumentError(`${what}: onReject must be a function`);
  }
  const authenticator = createJwtSvidAuthenticator(authOptions);
  return (method, call) =>
    new ServerInterceptingCall(call, {
      start: (next) => {
        next({
          onReceiveMetadata: (metadata, pass) => {
            const values = metadata
              .get('authorization')
              .filter((v): v is string => typeof v === 'string');
            authenticator.authenticate({ authorization: values }).then(
              ({ svid }) => {
                jwtSvids.set(metadata, svid);
                pass(metadata);
              },
              (err: unknown) => {
                call.sendStatus(jwtRefusal(err));
                const error = err instanceof Error ? err : new Error(String(err));
                safely(() => onReject?.(error, { peer: call.getPeer(), method: method.path }));
              },
            );
          },
        });
      },
    });
}

/**
 * The JWT-SVID that {@link jwtSvidServerInterceptor} validated for this call, or `undefined` when
 * the call did not go through it. Call it in a handler with the call object it received.
 *
 * @example
 * ```ts
 * server.addService(service, {
 *   hello(call, callback) {
 *     const svid = jwtSvidFromCall(call);
 *     callback(null, { greeting: `hello ${svid?.id.toString()}` });
 *   },
 * });
 * ```
 */
export function jwtSvidFromCall(call: GrpcServerCall): JwtSvid | undefined {
  return jwtSvids.get(call.metadata);
}
