import { InvalidArgumentError } from '../errors.js';
import type { JwtSvidParams, JwtSvidSource } from '../svid/jwt-svid-source.js';

/**
 * Any fetch implementation: Node's global `fetch`, undici's `fetch`, or a wrapper with the same
 * call shape `(input, init?) => Promise<Response>`.
 *
 * @example
 * ```ts
 * import { fetch as undiciFetch } from 'undici';
 * const f: FetchFunction = undiciFetch;
 * ```
 */
export type FetchFunction = (input: never, init?: never) => Promise<unknown>;

/**
 * Options of {@link jwtSvidFetch}: what to ask the source for ({@link JwtSvidParams}), plus the
 * fetch to wrap and the plain-HTTP opt-in.
 *
 * @example
 * ```ts
 * const options: JwtSvidFetchOptions = { audience: 'spiffe://example.org/reports' };
 * ```
 */
export interface JwtSvidFetchOptions<F extends FetchFunction = typeof fetch> extends JwtSvidParams {
  /** The fetch to call. Default: the global `fetch` (at the time `jwtSvidFetch` is called). */
  readonly fetch?: F;
  /**
   * Also send the token to `http:` URLs. Default false: a bearer token sent in clear text can be
   * replayed by anyone on the path (RFC 6750 §5.3, JWT-SVID §6.3), so only `https:` is allowed.
   * Set it only for links that are protected otherwise (a Unix socket, a service mesh sidecar on
   * loopback).
   */
  readonly allowInsecureHttp?: boolean;
}

/** What this module reads from a `Request` given as fetch input. */
interface RequestLike {
  readonly url: string;
  readonly headers?: unknown;
  readonly signal?: AbortSignal | null;
}

/** What this module reads from fetch's `init`. */
interface InitLike {
  readonly headers?: unknown;
  readonly signal?: AbortSignal | null;
}

function checkSource(source: JwtSvidSource, what: string): void {
  if (typeof (source as Partial<JwtSvidSource> | null)?.fetchJwtSvid !== 'function') {
    throw new InvalidArgumentError(`${what}: source must be a JwtSvidSource (fetchJwtSvid)`);
  }
}

/** The params to ask the source for, checked and without any other option. */
function paramsOf(params: JwtSvidParams, what: string): JwtSvidParams {
  const { audience, extraAudiences, subject } = params;
  if (typeof audience !== 'string' || audience === '') {
    throw new InvalidArgumentError(`${what}: audience must be a non-empty string`);
  }
  return Object.freeze({
    audience,
    ...(extraAudiences === undefined ? {} : { extraAudiences }),
    ...(subject === undefined ? {} : { subject }),
  });
}

async function authorization(
  source: JwtSvidSource,
  params: JwtSvidParams,
  signal: AbortSignal | undefined,
): Promise<string> {
  const svid = await source.fetchJwtSvid(params, signal === undefined ? undefined : { signal });
  return `Bearer ${svid.marshal()}`;
}

/**
 * The `Authorization` header value (`Bearer <token>`) for a request to `params.audience`, with a
 * JWT-SVID from `source`. With a Workload API `JwtSource` the token comes from its cache and is
 * refreshed once half of its lifetime has passed, so calling this for every request is cheap. For
 * `node:http`/`https` and undici's `request`, which take headers as a plain object.
 *
 * Bearer tokens must travel over TLS (RFC 6750 §5.3, JWT-SVID §6.3): this function cannot see
 * the URL, so that is the caller's job ({@link jwtSvidFetch} checks it).
 *
 * @example
 * ```ts
 * import https from 'node:https';
 * import { jwtSvidAuthorization } from 'spiffe-sdk/http';
 *
 * const authorization = await jwtSvidAuthorization(jwtSource, { audience: 'spiffe://example.org/reports' });
 * https.get('https://reports.internal/', { headers: { authorization } }, (res) => res.resume());
 * ```
 */
export async function jwtSvidAuthorization(
  source: JwtSvidSource,
  params: JwtSvidParams,
  options?: { readonly signal?: AbortSignal },
): Promise<string> {
  const what = 'jwtSvidAuthorization';
  checkSource(source, what);
  return authorization(source, paramsOf(params, what), options?.signal);
}

function urlOf(input: unknown, what: string): URL {
  let href: string | undefined;
  if (typeof input === 'string') href = input;
  else if (input instanceof URL) href = input.href;
  else if (typeof (input as Partial<RequestLike> | null)?.url === 'string') {
    href = (input as RequestLike).url;
  }
  if (href === undefined) {
    throw new InvalidArgumentError(`${what}: the input must be a URL string, a URL or a Request`);
  }
  try {
    return new URL(href);
  } catch (err) {
    throw new InvalidArgumentError(`${what}: the input is not an absolute URL`, { cause: err });
  }
}

/**
 * Wraps `fetch` so that every request carries `Authorization: Bearer <JWT-SVID>` for
 * `options.audience`, from `source` (a Workload API `JwtSource` caches the token and refreshes it
 * at half its lifetime). The result has the call shape of the wrapped fetch, so it works with
 * Node's global `fetch` and with undici's (pass `options.fetch`; undici's `dispatcher` option
 * passes through, for example with `createUndiciDispatcher` of `spiffe-sdk/tls` for mTLS).
 *
 * It refuses, with a rejected {@link InvalidArgumentError} and without fetching a token:
 * - a URL that is not `https:` (or `http:` with `options.allowInsecureHttp`), because a bearer
 *   token must not travel in clear text (RFC 6750 §5.3, JWT-SVID §6.3);
 * - a request that already has an `Authorization` header, rather than silently replacing it.
 *
 * The request's `signal` also aborts fetching the token. WHATWG fetch drops `Authorization` when
 * it follows a redirect to another origin, so a redirect cannot carry the token elsewhere; a
 * custom `fetch` must do the same.
 *
 * @typeParam F The type of the wrapped fetch, and so of the result.
 * @example
 * ```ts
 * import { jwtSvidFetch } from 'spiffe-sdk/http';
 *
 * const reportsFetch = jwtSvidFetch(jwtSource, { audience: 'spiffe://example.org/reports' });
 * const res = await reportsFetch('https://reports.internal/v1/summary');
 *
 * // With undici and SPIFFE mTLS underneath:
 * import { fetch } from 'undici';
 * const mtlsFetch = jwtSvidFetch(jwtSource, { audience: 'reports', fetch });
 * await mtlsFetch('https://reports.internal/', { dispatcher });
 * ```
 */
export function jwtSvidFetch<F extends FetchFunction = typeof fetch>(
  source: JwtSvidSource,
  options: JwtSvidFetchOptions<F>,
): F {
  const what = 'jwtSvidFetch';
  checkSource(source, what);
  const params = paramsOf(options, what);
  const fetchImpl = (options.fetch ?? globalThis.fetch) as unknown;
  if (typeof fetchImpl !== 'function') {
    throw new InvalidArgumentError(`${what}: fetch must be a function`);
  }
  const allowHttp = options.allowInsecureHttp === true;

  const wrapped = async (input: unknown, init?: InitLike): Promise<unknown> => {
    const url = urlOf(input, what);
    if (url.protocol !== 'https:' && !(allowHttp && url.protocol === 'http:')) {
      throw new InvalidArgumentError(
        `${what}: refusing to send a JWT-SVID to ${url.protocol}//${url.host}: bearer tokens ` +
          'must travel over TLS (RFC 6750 §5.3, JWT-SVID §6.3); use https:, or set ' +
          'allowInsecureHttp for a link that is protected otherwise',
      );
    }
    // As in fetch itself, init.headers replaces the headers of a Request input.
    const request = typeof input === 'object' ? (input as RequestLike) : undefined;
    const headers = new Headers(
      (init?.headers ?? request?.headers) as ConstructorParameters<typeof Headers>[0],
    );
    if (headers.has('authorization')) {
      throw new InvalidArgumentError(
        `${what}: the request already has an Authorization header; refusing to replace it`,
      );
    }
    const signal = init?.signal ?? request?.signal ?? undefined;
    headers.set('authorization', await authorization(source, params, signal));
    return (fetchImpl as (input: unknown, init: unknown) => Promise<unknown>)(input, {
      ...init,
      headers,
    });
  };
  return wrapped as unknown as F;
}
