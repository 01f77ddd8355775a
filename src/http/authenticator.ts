import { InvalidArgumentError, InvalidJwtSvidError } from '../errors.js';
import type { SpiffeId } from '../spiffeid/index.js';
import { JwtSvidValidator, type JwtSvidValidatorOptions } from '../svid/jwt-svid-validator.js';
import type { JwtSvid } from '../svid/jwt-svid.js';
import { bearerToken, type RequestHeaders } from './bearer.js';
import { checkRealm, refusal, tokenDescription } from './challenge.js';

/**
 * An authenticated caller: the SPIFFE ID of a valid JWT-SVID and the SVID itself. Frozen.
 *
 * @example
 * ```ts
 * const { id, svid } = await authenticator.authenticate(req.headersDistinct);
 * console.log(id.toString(), svid.expiry);
 * ```
 */
export interface JwtSvidAuthResult {
  /** The caller's SPIFFE ID (the token's `sub`). */
  readonly id: SpiffeId;
  /** The validated token. */
  readonly svid: JwtSvid;
}

/**
 * Decides whether an authenticated caller may make the request. Like a TLS `Authorizer`, it allows
 * by returning `true` or nothing and denies by returning `false` or throwing; any other value
 * denies. Unlike one, it may be asynchronous (resolve or reject likewise). A spiffeid `Matcher`
 * (`matchId`, `matchOneOf`, `matchMemberOf`: the counterparts of `authorizeId`, `authorizeOneOf`,
 * `authorizeMemberOf`) is one.
 *
 * @example
 * ```ts
 * const onlyProd: JwtSvidAuthorizer = (id) => id.path.startsWith('/ns/prod/');
 * const withClaim: JwtSvidAuthorizer = (_id, svid) => svid.claims['tenant'] === 'acme';
 * const remote: JwtSvidAuthorizer = async (id) => await policy.allows(id.toString());
 * ```
 */
export type JwtSvidAuthorizer = (
  id: SpiffeId,
  svid: JwtSvid,
  // `void` so that authorizers that throw to deny and return nothing type-check.
  // eslint-disable-next-line @typescript-eslint/no-invalid-void-type
) => boolean | void | Promise<boolean | void>;

/**
 * Options of {@link createJwtSvidAuthenticator}: those of `JwtSvidValidator` (`bundleSource`,
 * `audience`, `requireAllAudiences`, `clockTolerance`, `now`, `maxEntries`) plus the authorizer
 * and the realm.
 *
 * @example
 * ```ts
 * const options: JwtSvidAuthenticatorOptions = {
 *   bundleSource: jwtSource,
 *   audience: 'spiffe://example.org/reports',
 *   authorize: matchMemberOf(TrustDomain.parse('example.org')),
 *   realm: 'reports',
 * };
 * ```
 */
export interface JwtSvidAuthenticatorOptions extends JwtSvidValidatorOptions {
  /**
   * Who may make requests, once the token is valid: a {@link JwtSvidAuthorizer}, for example a
   * spiffeid `Matcher`. Default: every caller with a valid token.
   */
  readonly authorize?: JwtSvidAuthorizer;
  /**
   * The `realm` of every `WWW-Authenticate` challenge (RFC 6750 §3): printable ASCII without `"`
   * and `\`. Default: none.
   */
  readonly realm?: string;
}

/**
 * Authenticates HTTP requests by their JWT-SVID; see {@link createJwtSvidAuthenticator}.
 *
 * @example
 * ```ts
 * const caller = await authenticator.authenticate(request.headers, { signal });
 * ```
 */
export interface JwtSvidAuthenticator {
  /**
   * The caller of a request with these headers, or a rejected promise: {@link JwtSvidAuthError}
   * when the request is refused (a bundle source that throws leaves the token unverifiable, so
   * that is a refusal too), or the signal's reason when `options.signal` aborts (checked before
   * and after each step; a running authorizer is not interrupted).
   *
   * @example
   * ```ts
   * const { id } = await authenticator.authenticate(req.headersDistinct);
   * ```
   */
  authenticate(
    headers: RequestHeaders,
    options?: { readonly signal?: AbortSignal },
  ): Promise<JwtSvidAuthResult>;
}

/** How an authorizer's result or failure is reported. */
function describe(result: unknown): string {
  if (result === false) return 'returned false';
  if (result === null) return 'returned null';
  return `returned a value of type ${typeof result} (authorizers return true, false or nothing)`;
}

class Authenticator implements JwtSvidAuthenticator {
  readonly #validator: JwtSvidValidator;
  readonly #authorize: JwtSvidAuthorizer | undefined;
  readonly #realm: string | undefined;

  constructor(options: JwtSvidAuthenticatorOptions) {
    const what = 'createJwtSvidAuthenticator';
    if (options.authorize !== undefined && typeof options.authorize !== 'function') {
      throw new InvalidArgumentError(`${what}: authorize must be a function`);
    }
    checkRealm(options.realm, what);
    this.#validator = new JwtSvidValidator(options);
    this.#authorize = options.authorize;
    this.#realm = options.realm;
    Object.freeze(this);
  }

  async authenticate(
    headers: RequestHeaders,
    options?: { readonly signal?: AbortSignal },
  ): Promise<JwtSvidAuthResult> {
    const signal = options?.signal;
    signal?.throwIfAborted();
    const token = bearerToken(headers, this.#realm);
    let svid: JwtSvid;
    try {
      svid = await this.#validator.validate(token);
    } catch (err) {
      if (!(err instanceof InvalidJwtSvidError)) throw err;
      throw refusal('invalid-token', this.#realm, err.message, tokenDescription(err.reason), {
        cause: err,
      });
    }
    signal?.throwIfAborted();
    if (this.#authorize !== undefined) {
      await this.#authorizeCaller(this.#authorize, svid);
      signal?.throwIfAborted();
    }
    return Object.freeze({ id: svid.id, svid });
  }

  async #authorizeCaller(authorize: JwtSvidAuthorizer, svid: JwtSvid): Promise<void> {
    const id = svid.id.toString();
    const deny = (why: string, cause?: unknown): never => {
      throw refusal(
        'forbidden',
        this.#realm,
        `the JWT-SVID of "${id}" was refused by the authorizer: ${why}`,
        `${id} is not authorized for this request`,
        cause === undefined ? { peerId: id } : { peerId: id, cause },
      );
    };
    let result: unknown;
    try {
      result = await authorize(svid.id, svid);
    } catch (err) {
      deny(`it threw: ${err instanceof Error ? err.message : String(err)}`, err);
    }
    if (result !== true && result !== undefined) deny(describe(result));
  }
}

/**
 * An authenticator for HTTP requests that carry a JWT-SVID as `Authorization: Bearer <token>`
 * (JWT-SVID §5.2, RFC 6750 §2.1), independent of any framework; `withJwtSvidAuth` and the
 * Express and Fastify adapters are built on it. It holds one `JwtSvidValidator`, so a caller's
 * repeated token costs a cache lookup, not a signature verification, until it expires or its key
 * leaves the bundle.
 *
 * Every refusal is a {@link JwtSvidAuthError} with the status and RFC 6750 §3 challenge to send:
 *
 * | request                                                  | `reason`        | status | `WWW-Authenticate`                                    |
 * | -------------------------------------------------------- | --------------- | ------ | ----------------------------------------------------- |
 * | no `Authorization` header                                | `missing`       | 401    | `Bearer` (plus `realm`), no error code (§3.1)         |
 * | another scheme (`Basic …`)                               | `scheme`        | 401    | the same                                              |
 * | two headers; `Bearer` not followed by 1*SP b64token      | `malformed`     | 401    | `error="invalid_request"` (RFC: SHOULD be 400; see docs) |
 * | token invalid (expired, wrong audience, unknown key, …)  | `invalid-token` | 401    | `error="invalid_token"`                               |
 * | the authorizer denies                                    | `forbidden`     | 403    | `error="insufficient_scope"`                          |
 *
 * The `error_description` is fixed text per rule (plus the caller's SPIFFE ID for `forbidden`);
 * it never repeats the token or anything taken from it. Only the `Authorization` header is read:
 * tokens in the query string or the body (RFC 6750 §2.2, §2.3) are ignored.
 *
 * @example
 * ```ts
 * import { createJwtSvidAuthenticator, JwtSvidAuthError } from 'spiffe-sdk/http';
 * import { matchMemberOf, TrustDomain } from 'spiffe-sdk/spiffeid';
 *
 * const authenticator = createJwtSvidAuthenticator({
 *   bundleSource: jwtSource,
 *   audience: 'spiffe://example.org/reports',
 *   authorize: matchMemberOf(TrustDomain.parse('example.org')),
 * });
 * try {
 *   const { id } = await authenticator.authenticate(req.headersDistinct);
 * } catch (err) {
 *   if (!(err instanceof JwtSvidAuthError)) throw err;
 *   res.writeHead(err.status, { 'www-authenticate': err.wwwAuthenticate }).end();
 * }
 * ```
 */
export function createJwtSvidAuthenticator(
  options: JwtSvidAuthenticatorOptions,
): JwtSvidAuthenticator {
  return new Authenticator(options);
}

/**
 * `value` if it is an authenticator, else an authenticator made from it as options. Lets every
 * adapter take either.
 */
export function toAuthenticator(
  value: JwtSvidAuthenticator | JwtSvidAuthenticatorOptions,
  what: string,
): JwtSvidAuthenticator {
  if (typeof value !== 'object' || (value as object | null) === null) {
    throw new InvalidArgumentError(`${what}: expected a JwtSvidAuthenticator or its options`);
  }
  return 'authenticate' in value && typeof value.authenticate === 'function'
    ? value
    : createJwtSvidAuthenticator(value as JwtSvidAuthenticatorOptions);
}
