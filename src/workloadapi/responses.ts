// Checks and converts Workload API responses. Every rule of the standard's "mandatory fields"
// (§4.5) is enforced here, so a response that breaks one is rejected as a whole and the caller
// keeps its last good material. Internal: not exported from the layer's index.
import { createHash } from 'node:crypto';
import { JwtBundleSet, X509BundleSet } from '../bundle/index.js';
import { JwtBundle } from '../bundle/jwt-bundle.js';
import { X509Bundle } from '../bundle/x509-bundle.js';
import { InvalidWorkloadApiResponseError, SpiffeError } from '../errors.js';
import { SpiffeId, TrustDomain } from '../spiffeid/index.js';
import type { JwtSvid } from '../svid/jwt-svid.js';
import { parseInsecureJwtSvid } from '../svid/parse-jwt-svid.js';
import { X509Svid } from '../svid/x509-svid.js';
import type * as gen from './gen/workload.js';
import { X509Context } from './x509-context.js';

type Method =
  'FetchX509SVID' | 'FetchX509Bundles' | 'FetchJWTSVID' | 'FetchJWTBundles' | 'ValidateJWTSVID';

function invalid(
  method: Method,
  message: string,
  cause?: unknown,
): InvalidWorkloadApiResponseError {
  return new InvalidWorkloadApiResponseError(
    method,
    message,
    cause === undefined ? undefined : { cause },
  );
}

function reason(err: unknown): string {
  return err instanceof SpiffeError ? err.message : 'unexpected error';
}

/** Wraps anything `fn` throws as an invalid-response error; only SDK errors carry their text. */
function wrap<T>(method: Method, where: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw invalid(method, `${where}: ${reason(err)}`, err);
  }
}

/**
 * Remembers what the parts of the last accepted response of a watch parsed to, keyed by a SHA-256
 * of their exact bytes, so an update that changes one part (say, a federated bundle) does not parse
 * and check every unchanged SVID and bundle again. Parsing is a pure function of those bytes (no
 * clock is involved), so a hit returns exactly what parsing would. Holds one response's worth.
 */
export class ParseCache {
  #previous = new Map<string, unknown>();
  #current = new Map<string, unknown>();

  /** The value for `parts` (from the last accepted response, or made now). */
  use<T>(kind: string, parts: readonly (Uint8Array | string)[], make: () => T): T {
    const hash = createHash('sha256').update(kind);
    for (const part of parts) hash.update(`|${part.length}|`).update(part);
    const key = hash.digest('base64');
    const value = (this.#current.get(key) ?? this.#previous.get(key) ?? make()) as T;
    this.#current.set(key, value);
    return value;
  }

  /** The response was accepted: what it used is what the next one may reuse. */
  commit(): void {
    this.#previous = this.#current;
    this.#current = new Map();
  }

  /** The response was rejected: forget what it added. */
  discard(): void {
    this.#current = new Map();
  }
}

/** Runs `parse` with `cache` (if any), committing on success and discarding on failure. */
function cached<T>(cache: ParseCache | undefined, parse: (c: ParseCache | undefined) => T): T {
  if (cache === undefined) return parse(undefined);
  try {
    const value = parse(cache);
    cache.commit();
    return value;
  } catch (err) {
    cache.discard();
    throw err;
  }
}

function memo<T>(
  cache: ParseCache | undefined,
  kind: string,
  parts: readonly (Uint8Array | string)[],
  make: () => T,
): T {
  return cache === undefined ? make() : cache.use(kind, parts, make);
}

/**
 * A bundle map key: the trust domain's SPIFFE ID (`spiffe://example.org`, what the standard says)
 * or its bare name (go-spiffe accepts both). Anything else, such as an ID with a path, is refused
 * rather than silently shortened.
 */
function trustDomainOfKey(method: Method, field: string, key: string): TrustDomain {
  const td = wrap(method, `${field} key ${JSON.stringify(key.slice(0, 256))}`, () =>
    TrustDomain.parse(key),
  );
  if (key !== td.idString() && key !== td.name) {
    throw invalid(
      method,
      `${field} key ${JSON.stringify(key.slice(0, 256))} is not a trust domain SPIFFE ID (spiffe://<trust-domain>)`,
    );
  }
  return td;
}

/** Entries of a protobuf map, each key's trust domain parsed; two keys for one trust domain are refused. */
function bundleEntries(
  method: Method,
  field: string,
  map: Readonly<Record<string, Uint8Array>>,
): [TrustDomain, Uint8Array][] {
  const seen = new Set<string>();
  const out: [TrustDomain, Uint8Array][] = [];
  for (const [key, value] of Object.entries(map)) {
    const td = trustDomainOfKey(method, field, key);
    if (seen.has(td.name)) {
      throw invalid(method, `${field} has two entries for trust domain "${td.name}"`);
    }
    seen.add(td.name);
    out.push([td, value]);
  }
  return out;
}

/**
 * `FetchX509SVID` → {@link X509Context}. Rules: `svids` not empty; in every entry `spiffe_id`,
 * `x509_svid`, `x509_svid_key` and `bundle` not empty (§5.2.1: all fields but `hint` are
 * mandatory), the SVID valid (X509-SVID standard) and its ID equal to `spiffe_id`; every bundle
 * and federated bundle parses. Of SVIDs sharing a non-empty hint, the first is kept. A trust
 * domain's bundle comes from its first SVID entry; a federated entry for one of the workload's own
 * trust domains is ignored (federated bundles are for foreign trust domains, §4.6).
 */
export function parseX509SvidResponse(
  response: gen.X509SVIDResponse,
  cache?: ParseCache,
): X509Context {
  return cached(cache, (c) => x509Context(response, c));
}

function x509Context(response: gen.X509SVIDResponse, cache: ParseCache | undefined): X509Context {
  const m = 'FetchX509SVID';
  if (response.svids.length === 0) {
    throw invalid(m, 'svids is empty; the response must hold at least one X509-SVID');
  }
  const svids: X509Svid[] = [];
  const hints = new Set<string>();
  const own = new Map<string, X509Bundle>();
  response.svids.forEach((entry, i) => {
    const at = `svids[${i}]`;
    for (const [field, empty] of [
      ['spiffe_id', entry.spiffeId === ''],
      ['x509_svid', entry.x509Svid.length === 0],
      ['x509_svid_key', entry.x509SvidKey.length === 0],
      ['bundle', entry.bundle.length === 0],
    ] as const) {
      if (empty) throw invalid(m, `${at}.${field} is empty, but it is a mandatory field`);
    }
    const id = wrap(m, `${at}.spiffe_id`, () => SpiffeId.parse(entry.spiffeId));
    const svid = wrap(m, `${at}.x509_svid`, () =>
      memo(cache, 'svid', [entry.x509Svid, entry.x509SvidKey, entry.hint], () =>
        X509Svid.parseRaw(entry.x509Svid, entry.x509SvidKey, { hint: entry.hint }),
      ),
    );
    if (!svid.id.equals(id)) {
      throw invalid(
        m,
        `${at}.spiffe_id "${id.toString()}" is not the SVID's SPIFFE ID "${svid.id.toString()}"`,
      );
    }
    const td = id.trustDomain;
    const bundle = wrap(m, `${at}.bundle`, () =>
      memo(cache, 'x509', [td.name, entry.bundle], () => X509Bundle.parseRaw(td, entry.bundle)),
    );
    if (!own.has(td.name)) own.set(td.name, bundle);
    if (entry.hint !== '') {
      if (hints.has(entry.hint)) return;
      hints.add(entry.hint);
    }
    svids.push(svid);
  });
  const bundles: X509Bundle[] = [...own.values()];
  for (const [td, der] of bundleEntries(m, 'federated_bundles', response.federatedBundles)) {
    const bundle = wrap(m, `federated_bundles["${td.name}"]`, () =>
      memo(cache, 'x509', [td.name, der], () => X509Bundle.parseRaw(td, der)),
    );
    if (!own.has(td.name)) bundles.push(bundle);
  }
  return new X509Context(svids, X509BundleSet.of(...bundles));
}

/** `FetchX509Bundles` → set. Rules: `bundles` not empty (§5.2.2), every entry parses. */
export function parseX509BundlesResponse(
  response: gen.X509BundlesResponse,
  cache?: ParseCache,
): X509BundleSet {
  return cached(cache, (c) => x509Bundles(response, c));
}

function x509Bundles(
  response: gen.X509BundlesResponse,
  cache: ParseCache | undefined,
): X509BundleSet {
  const m = 'FetchX509Bundles';
  const entries = bundleEntries(m, 'bundles', response.bundles);
  if (entries.length === 0) {
    throw invalid(m, 'bundles is empty; it must hold at least the bundle of the own trust domain');
  }
  return X509BundleSet.of(
    ...entries.map(([td, der]) =>
      wrap(m, `bundles["${td.name}"]`, () =>
        memo(cache, 'x509', [td.name, der], () => X509Bundle.parseRaw(td, der)),
      ),
    ),
  );
}

/** `FetchJWTBundles` → set. Rules: `bundles` not empty (§6.2.2), every entry is a valid JWKS. */
export function parseJwtBundlesResponse(
  response: gen.JWTBundlesResponse,
  cache?: ParseCache,
): JwtBundleSet {
  return cached(cache, (c) => jwtBundles(response, c));
}

function jwtBundles(response: gen.JWTBundlesResponse, cache: ParseCache | undefined): JwtBundleSet {
  const m = 'FetchJWTBundles';
  const entries = bundleEntries(m, 'bundles', response.bundles);
  if (entries.length === 0) {
    throw invalid(m, 'bundles is empty; it must hold at least the bundle of the own trust domain');
  }
  return JwtBundleSet.of(
    ...entries.map(([td, jwks]) => {
      if (jwks.length === 0) throw invalid(m, `bundles["${td.name}"] is empty`);
      return wrap(m, `bundles["${td.name}"]`, () =>
        memo(cache, 'jwt', [td.name, jwks], () => JwtBundle.parse(td, jwks)),
      );
    }),
  );
}

/**
 * `FetchJWTSVID` → SVIDs. Rules: `svids` not empty (§6.2.1); every `spiffe_id` and `svid` set;
 * each token passes every JWT-SVID claim check (not the signature: the token comes from our own
 * agent) with ALL requested audiences present, its `sub` equal to `spiffe_id`, and, when a subject
 * was requested, equal to it. Of tokens sharing a non-empty hint, the first is kept.
 */
export async function parseJwtSvidResponse(
  response: gen.JWTSVIDResponse,
  audience: readonly string[],
  subject: SpiffeId | undefined,
  now: () => Date,
): Promise<JwtSvid[]> {
  const m = 'FetchJWTSVID';
  if (response.svids.length === 0) {
    throw invalid(m, 'svids is empty; the response must hold at least one JWT-SVID');
  }
  const out: JwtSvid[] = [];
  const hints = new Set<string>();
  for (const [i, entry] of response.svids.entries()) {
    const at = `svids[${i}]`;
    if (entry.spiffeId === '')
      throw invalid(m, `${at}.spiffe_id is empty, but it is a mandatory field`);
    if (entry.svid === '') throw invalid(m, `${at}.svid is empty, but it is a mandatory field`);
    const id = wrap(m, `${at}.spiffe_id`, () => SpiffeId.parse(entry.spiffeId));
    let svid: JwtSvid;
    try {
      svid = await parseInsecureJwtSvid(entry.svid, audience, { requireAllAudiences: true, now });
    } catch (err) {
      throw invalid(m, `${at}.svid: ${reason(err)}`, err);
    }
    if (!svid.id.equals(id)) {
      throw invalid(
        m,
        `${at}.spiffe_id "${id.toString()}" is not the token's subject "${svid.id.toString()}"`,
      );
    }
    if (subject !== undefined && !svid.id.equals(subject)) {
      throw invalid(
        m,
        `${at} is for "${svid.id.toString()}", not the requested "${subject.toString()}"`,
      );
    }
    if (entry.hint !== '') {
      if (hints.has(entry.hint)) continue;
      hints.add(entry.hint);
    }
    out.push(svid.withHint(entry.hint));
  }
  return out;
}

/**
 * `ValidateJWTSVID`: the agent validated the token; the SVID is built locally from the token (as
 * go-spiffe does) after the claim checks, and the response's mandatory `spiffe_id` must be set and
 * equal the token's subject.
 */
export async function parseValidateJwtSvidResponse(
  response: gen.ValidateJWTSVIDResponse,
  token: string,
  audience: string,
  now: () => Date,
): Promise<JwtSvid> {
  const m = 'ValidateJWTSVID';
  if (response.spiffeId === '') {
    throw invalid(m, 'spiffe_id is empty, but it is a mandatory field');
  }
  const id = wrap(m, 'spiffe_id', () => SpiffeId.parse(response.spiffeId));
  const svid = await parseInsecureJwtSvid(token, audience, { now });
  if (!svid.id.equals(id)) {
    throw invalid(
      m,
      `spiffe_id "${id.toString()}" is not the token's subject "${svid.id.toString()}"`,
    );
  }
  return svid;
}
