import type { X509Certificate } from 'node:crypto';
import { InvalidArgumentError, PeerUnauthorizedError } from '../errors.js';
import { type Matcher, SpiffeId, TrustDomain } from '../spiffeid/index.js';

/**
 * Decides whether an authenticated TLS peer may talk to us. It receives the peer's SPIFFE ID,
 * already verified against the bundle of the peer's own trust domain, and the verified chains
 * (leaf first, ending at a bundle authority). It allows by returning `true` or nothing, and denies
 * by returning `false` or throwing. It must be synchronous: TLS handshakes cannot wait, so any
 * other return value (a Promise, for example) denies the peer.
 *
 * @example
 * ```ts
 * const onlyProd: Authorizer = (id) => id.path.startsWith('/ns/prod/');
 * const strict: Authorizer = (id) => {
 *   if (!id.memberOf(td)) throw new Error(`foreign peer ${id}`);
 * };
 * ```
 */
export type Authorizer = (
  id: SpiffeId,
  verifiedChains: readonly (readonly X509Certificate[])[],
  // `void` so that authorizers written like go-spiffe's (throw to deny, return nothing) type-check.
  // eslint-disable-next-line @typescript-eslint/no-invalid-void-type
) => boolean | void;

function toId(id: SpiffeId | string, what: string): SpiffeId {
  if (id instanceof SpiffeId) return id;
  if (typeof id === 'string') return SpiffeId.parse(id);
  throw new InvalidArgumentError(`${what}: expected a SpiffeId or a SPIFFE ID string`);
}

function deny(id: SpiffeId, message: string): never {
  throw new PeerUnauthorizedError(id.toString(), message);
}

/**
 * An authorizer that accepts every peer whose X509-SVID verified. Authentication still happens
 * (the chain must lead to an authority of the peer's trust domain); only authorization is skipped.
 *
 * @example
 * ```ts
 * const server = createHttpsServer(mtlsServer(source, authorizeAny()), {}, handler);
 * ```
 */
export function authorizeAny(): Authorizer {
  return () => true;
}

/**
 * An authorizer that accepts exactly the SPIFFE ID `expected`.
 *
 * @example
 * ```ts
 * const client = mtlsClient(source, authorizeId('spiffe://example.org/billing'));
 * ```
 */
export function authorizeId(expected: SpiffeId | string): Authorizer {
  const want = toId(expected, 'authorizeId');
  return (id) => {
    if (!id.equals(want))
      deny(id, `unexpected peer ID "${id.toString()}": expected "${want.toString()}"`);
  };
}

/**
 * An authorizer that accepts any of the given SPIFFE IDs. With no IDs it accepts nobody.
 *
 * @example
 * ```ts
 * const authorizer = authorizeOneOf('spiffe://example.org/web', 'spiffe://example.org/api');
 * ```
 */
export function authorizeOneOf(...expected: readonly (SpiffeId | string)[]): Authorizer {
  const allowed = new Set(expected.map((id) => toId(id, 'authorizeOneOf').toString()));
  const listed = [...allowed].map((id) => `"${id}"`).join(', ');
  return (id) => {
    if (!allowed.has(id.toString())) {
      deny(id, `unexpected peer ID "${id.toString()}": expected one of [${listed}]`);
    }
  };
}

/**
 * An authorizer that accepts every SPIFFE ID of `trustDomain`.
 *
 * @example
 * ```ts
 * const authorizer = authorizeMemberOf(TrustDomain.parse('example.org'));
 * const same = authorizeMemberOf('example.org');
 * ```
 */
export function authorizeMemberOf(trustDomain: TrustDomain | string): Authorizer {
  let td: TrustDomain;
  if (trustDomain instanceof TrustDomain) td = trustDomain;
  else if (typeof trustDomain === 'string') td = TrustDomain.parse(trustDomain);
  else throw new InvalidArgumentError('authorizeMemberOf: expected a TrustDomain or a name');
  return (id) => {
    if (!id.memberOf(td)) {
      deny(
        id,
        `unexpected trust domain "${id.trustDomain.name}" of peer "${id.toString()}": expected "${td.name}"`,
      );
    }
  };
}

/**
 * Turns a SPIFFE ID {@link Matcher} into an authorizer (the chains are not looked at).
 *
 * @example
 * ```ts
 * import { matchMemberOf } from 'spiffe-sdk/spiffeid';
 * const authorizer = adaptMatcher(matchMemberOf(TrustDomain.parse('example.org')));
 * ```
 */
export function adaptMatcher(matcher: Matcher): Authorizer {
  if (typeof matcher !== 'function') {
    throw new InvalidArgumentError('adaptMatcher: the matcher must be a function');
  }
  return (id) => {
    // Only a real `true` allows: a plain JavaScript matcher returning "yes" or 1 denies.
    const matched: unknown = matcher(id);
    if (matched !== true) deny(id, `peer ID "${id.toString()}" did not match the matcher`);
  };
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'object' && typeof (value as { then?: unknown }).then === 'function') {
    return 'a Promise';
  }
  return `a value of type ${typeof value}`;
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Runs `authorizer` for a verified peer and throws {@link PeerUnauthorizedError} unless it
 * allowed the peer. Internal: every TLS path funnels through here so that the rules (what counts
 * as "allowed", how throws are wrapped) are the same everywhere.
 */
export function runAuthorizer(
  authorizer: Authorizer,
  id: SpiffeId,
  verifiedChains: readonly (readonly X509Certificate[])[],
): void {
  let result: unknown;
  try {
    result = authorizer(id, verifiedChains);
  } catch (err) {
    if (err instanceof PeerUnauthorizedError) throw err;
    throw new PeerUnauthorizedError(
      id.toString(),
      `peer "${id.toString()}" was refused by the authorizer: ${messageOf(err)}`,
      { cause: err },
    );
  }
  if (result === true || result === undefined) return;
  if (result === false) {
    throw new PeerUnauthorizedError(
      id.toString(),
      `peer "${id.toString()}" was refused by the authorizer`,
    );
  }
  if (
    typeof result === 'object' &&
    result !== null &&
    typeof (result as { then?: unknown }).then === 'function'
  ) {
    // Keep a late rejection from surfacing as an unhandled rejection; the peer is denied anyway.
    (result as PromiseLike<unknown>).then(undefined, () => undefined);
  }
  throw new PeerUnauthorizedError(
    id.toString(),
    `peer "${id.toString()}" was refused: the authorizer returned ${describe(result)}; ` +
      'authorizers must return true, false or nothing, synchronously',
  );
}
