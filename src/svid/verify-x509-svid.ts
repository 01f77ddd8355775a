/*
 * Why a path builder of our own instead of pkijs's CertificateChainValidationEngine: that engine is
 * asynchronous (it verifies signatures with WebCrypto), but this check runs inside Node's TLS
 * `checkServerIdentity` callback, which must decide synchronously. So the work is split: asn1js's
 * synchronous `fromBER`, with strict DER checks on top (src/internal/x509/asn1.ts), reads the
 * extensions once per certificate (src/internal/x509/facts.ts), OpenSSL through node:crypto checks
 * issuer links and signatures (`checkIssued`, `verify`), and the path builder below applies the
 * RFC 5280 and X509-SVID rules. Each rule has a negative test in test/svid/x509-verify*.test.ts.
 */
import type { X509Certificate } from 'node:crypto';
import type { X509BundleSource } from '../bundle/source.js';
import { BundleNotFoundError, X509SvidVerificationError } from '../errors.js';
import { DecodeError } from '../internal/der.js';
import { cachedCertificate } from '../internal/x509/cert-cache.js';
import { type CertificateFacts, certificateFacts } from '../internal/x509/facts.js';
import { nameConstraintViolation } from '../internal/x509/name-constraints.js';
import type { SpiffeId } from '../spiffeid/index.js';

/** The longest chain (leaf included) that is looked at; longer input is rejected outright. */
export const MAX_X509_CHAIN_LENGTH = 16;

/** The most certificates a verified path may have, leaf and anchor included. */
const MAX_PATH_LENGTH = 10;

/** An upper bound on signature checks per call, so that crafted chains cannot cost unbounded time. */
const MAX_SIGNATURE_CHECKS = 100;

/** An upper bound on path-building steps per call (each tries every candidate issuer once). */
const MAX_SEARCH_STEPS = 256;

/** Options of {@link verifyX509Svid} and {@link parseAndVerifyX509Svid}. */
export interface VerifyX509SvidOptions {
  /** The time at which every certificate must be valid. Default: now. */
  readonly time?: Date;
}

/** The result of a successful {@link verifyX509Svid}. */
export interface VerifiedX509Svid {
  /** The SPIFFE ID of the leaf. */
  readonly id: SpiffeId;
  /** Every chain that verified, each from the leaf to a bundle authority (included). */
  readonly verifiedChains: readonly (readonly X509Certificate[])[];
}

// Signature results never change for the same certificate bytes and issuer key, so they are cached
// per certificate object (the raw-chain LRU hands out the same objects for the same bytes).
const signatureCache = new WeakMap<X509Certificate, WeakMap<X509Certificate, boolean>>();

// Not a type guard on purpose: callers from JavaScript may pass anything.
function isArray(value: unknown): boolean {
  return Array.isArray(value);
}

function fail(message: string, cause?: unknown): X509SvidVerificationError {
  return new X509SvidVerificationError(
    `x509svid: ${message}`,
    cause === undefined ? undefined : { cause },
  );
}

/** Names a certificate in messages; peer-controlled text is cut short. */
function describe(cert: X509Certificate, facts: CertificateFacts): string {
  const subject = cert.subject.replace(/\n/g, ', ').slice(0, 200);
  const uri = facts.uriSans.length === 1 ? ` (${(facts.uriSans[0] ?? '').slice(0, 200)})` : '';
  return `"${subject === '' ? `serial ${cert.serialNumber}` : subject}"${uri}`;
}

function validityProblem(facts: CertificateFacts, now: number): string | undefined {
  if (now < facts.notBefore) {
    return `is not yet valid (notBefore ${new Date(facts.notBefore).toISOString()})`;
  }
  if (now > facts.notAfter) {
    return `has expired (notAfter ${new Date(facts.notAfter).toISOString()})`;
  }
  return undefined;
}

/** Problems any certificate on the path can have, whatever its position. */
function commonProblem(facts: CertificateFacts, now: number): string | undefined {
  if (facts.malformed !== undefined) return `is malformed: ${facts.malformed}`;
  if (facts.unhandledCriticalExtensions.length > 0) {
    return `has an unhandled critical extension (${facts.unhandledCriticalExtensions.join(', ')})`;
  }
  if (facts.keyProblem !== undefined) return `has an unacceptable key: ${facts.keyProblem}`;
  return validityProblem(facts, now);
}

/** Problems of a certificate used as an issuer (an intermediate or the anchor). */
function issuerProblem(facts: CertificateFacts, isAnchor: boolean): string | undefined {
  const bc = facts.basicConstraints;
  if (isAnchor) {
    // Bundle authorities are trusted as they are (RFC 5280 trust anchors), but one that says it is
    // not a CA, or that its key may not sign certificates, is not used.
    if (bc !== undefined && !bc.ca) return 'is a bundle authority with CA flag set to false';
  } else if (bc?.ca !== true) {
    return 'is not a CA (basicConstraints cA is not true)';
  }
  if (facts.keyUsage !== undefined && !facts.keyUsage.keyCertSign) {
    return "has a keyUsage without 'keyCertSign'";
  }
  const nc = facts.nameConstraints;
  if (nc !== undefined && nc.uncheckedForms.length > 0) {
    return `has name constraints of a form this SDK does not check (${nc.uncheckedForms.join(', ')}); rejected to fail closed`;
  }
  return undefined;
}

interface Search {
  readonly now: number;
  readonly anchors: readonly X509Certificate[];
  readonly pool: readonly X509Certificate[];
  readonly chains: X509Certificate[][];
  readonly reasons: string[];
  signatureChecks: number;
  steps: number;
}

function note(search: Search, reason: string): void {
  if (!search.reasons.includes(reason) && search.reasons.length < 8) search.reasons.push(reason);
}

function signatureValid(search: Search, cert: X509Certificate, issuer: X509Certificate): boolean {
  let byIssuer = signatureCache.get(cert);
  const cached = byIssuer?.get(issuer);
  if (cached !== undefined) return cached;
  if (search.signatureChecks >= MAX_SIGNATURE_CHECKS) {
    note(search, `gave up after ${MAX_SIGNATURE_CHECKS} signature checks`);
    return false;
  }
  search.signatureChecks++;
  let valid = false;
  try {
    valid = cert.verify(issuer.publicKey);
  } catch {
    valid = false;
  }
  if (byIssuer === undefined) {
    byIssuer = new WeakMap();
    signatureCache.set(cert, byIssuer);
  }
  byIssuer.set(issuer, valid);
  return valid;
}

/** Whether `candidate` may join `path` (no certificate twice, no loops through cross-signing). */
function inPath(path: readonly X509Certificate[], candidate: X509Certificate): boolean {
  const cf = certificateFacts(candidate);
  return path.some((p) => {
    if (p === candidate || p.raw.equals(candidate.raw)) return true;
    const pf = certificateFacts(p);
    return pf.subjectHex === cf.subjectHex && pf.spkiHex === cf.spkiHex;
  });
}

/**
 * RFC 5280 §4.2.1.9: a CA's pathLenConstraint bounds the non-self-issued intermediates that follow
 * it; §4.2.1.10: its name constraints bound the names of every certificate below it (self-issued
 * intermediates excepted), the leaf's SPIFFE ID and DNS names included.
 */
function constraintProblem(
  path: readonly X509Certificate[],
  facts: CertificateFacts,
): string | undefined {
  const pathLen = facts.basicConstraints?.pathLen;
  if (pathLen !== undefined) {
    const below = path.slice(1).filter((c) => !certificateFacts(c).selfIssued).length;
    if (below > pathLen) {
      return `has pathLenConstraint ${pathLen} but ${below} intermediate CA certificate(s) follow it`;
    }
  }
  const nc = facts.nameConstraints;
  if (nc !== undefined) {
    for (const [i, cert] of path.entries()) {
      const cf = certificateFacts(cert);
      if (i > 0 && cf.selfIssued) continue;
      const violation = nameConstraintViolation(nc, cf.uriSans, cf.dnsSans);
      if (violation !== undefined) {
        return `has name constraints that ${i === 0 ? 'the leaf' : `intermediate ${describe(cert, cf)}`} violates: ${violation}`;
      }
    }
  }
  return undefined;
}

function extend(search: Search, path: X509Certificate[]): void {
  const current = path.at(-1);
  if (current === undefined) return;
  if (++search.steps > MAX_SEARCH_STEPS) {
    note(search, `gave up after ${MAX_SEARCH_STEPS} path-building steps`);
    return;
  }
  const currentFacts = certificateFacts(current);
  const candidates: [X509Certificate, boolean][] = [
    ...search.anchors.map((a): [X509Certificate, boolean] => [a, true]),
    ...search.pool.map((c): [X509Certificate, boolean] => [c, false]),
  ];
  for (const [candidate, isAnchor] of candidates) {
    if (inPath(path, candidate)) continue;
    const facts = certificateFacts(candidate);
    // Candidates are certificates whose subject is the current certificate's issuer, byte for byte
    // or as OpenSSL's checkIssued sees it (canonicalised names, key identifiers, keyUsage). Our own
    // rules run first so that a rejection names the rule; checkIssued must agree as well.
    const nameMatch = currentFacts.issuerHex === facts.subjectHex;
    if (!nameMatch && !current.checkIssued(candidate)) continue;
    const who = `${isAnchor ? 'authority' : 'intermediate'} ${describe(candidate, facts)}`;
    const problem =
      commonProblem(facts, search.now) ??
      issuerProblem(facts, isAnchor) ??
      constraintProblem(path, facts);
    if (problem !== undefined) {
      note(search, `${who} ${problem}`);
      continue;
    }
    if (nameMatch && !current.checkIssued(candidate)) {
      note(
        search,
        `${who} is not the issuer of ${describe(current, currentFacts)} (key identifiers or key usage do not match)`,
      );
      continue;
    }
    if (currentFacts.signatureAlgorithmProblem !== undefined) {
      note(
        search,
        `certificate ${describe(current, currentFacts)} is signed with a rejected algorithm: ${currentFacts.signatureAlgorithmProblem}`,
      );
      continue;
    }
    if (!signatureValid(search, current, candidate)) {
      note(
        search,
        `the signature of ${describe(current, currentFacts)} does not verify with the key of ${who}`,
      );
      continue;
    }
    if (isAnchor) {
      search.chains.push([...path, candidate]);
    } else if (path.length + 1 < MAX_PATH_LENGTH) {
      path.push(candidate);
      extend(search, path);
      path.pop();
    } else {
      note(search, `no path within ${MAX_PATH_LENGTH} certificates`);
    }
  }
}

/**
 * Verifies a peer's X509-SVID chain (leaf first; the other certificates in any order, extras and
 * duplicates allowed) against the X.509 bundle of the leaf's own trust domain, and returns the
 * leaf's SPIFFE ID and every verified chain. Synchronous, so it can run inside TLS callbacks.
 *
 * Rules (X509-SVID §5, RFC 5280 §6; go-spiffe `x509svid.Verify` plus the spec's non-root path):
 * - the leaf has exactly one URI SAN, a valid SPIFFE ID with a non-root path; it is not a CA and has
 *   neither `keyCertSign` nor `cRLSign`;
 * - the bundle is chosen only by the trust domain of that SPIFFE ID, and the chain must end at one of
 *   its authorities;
 * - every signature on the path verifies; every certificate (the authority included) is valid at
 *   `options.time`; intermediates are CAs, with `keyCertSign` if they have a keyUsage;
 *   pathLenConstraint and URI/DNS name constraints hold; no unhandled critical extension; no MD5 or
 *   SHA-1 signatures and no RSA keys under 2048 bits.
 *
 * Throws {@link X509SvidVerificationError} naming the failed rule.
 *
 * @example
 * ```ts
 * import { verifyX509Svid } from 'spiffe-sdk/svid';
 *
 * const { id, verifiedChains } = verifyX509Svid(peerCertificates, bundleSet);
 * if (!id.memberOf(TrustDomain.parse('example.org'))) throw new Error('unexpected peer');
 * ```
 */
export function verifyX509Svid(
  chain: readonly X509Certificate[],
  bundleSource: X509BundleSource,
  options: VerifyX509SvidOptions = {},
): VerifiedX509Svid {
  if (!isArray(chain) || chain.length === 0) {
    throw fail('empty certificates chain');
  }
  if (chain.length > MAX_X509_CHAIN_LENGTH) {
    throw fail(
      `certificates chain has ${chain.length} certificates; at most ${MAX_X509_CHAIN_LENGTH} are accepted`,
    );
  }
  const now = (options.time ?? new Date()).getTime();
  if (Number.isNaN(now)) throw fail('the verification time is not a valid date');

  const [leaf] = chain;
  if (leaf === undefined) throw fail('empty certificates chain');
  const leafFacts = certificateFacts(leaf);
  if (leafFacts.malformed !== undefined) {
    throw fail(
      `could not get leaf SPIFFE ID: leaf certificate is malformed: ${leafFacts.malformed}`,
    );
  }
  const id = leafFacts.spiffeId;
  if (id === undefined) {
    throw fail(`could not get leaf SPIFFE ID: ${String(leafFacts.spiffeIdProblem)}`);
  }
  const who = `leaf certificate "${id.toString()}"`;
  if (id.path === '') {
    throw fail(`${who}: a leaf SPIFFE ID must have a non-root path (X509-SVID §5.2)`);
  }
  if (leafFacts.basicConstraints?.ca === true) throw fail(`${who} with CA flag set to true`);
  if (leafFacts.keyUsage?.keyCertSign === true) {
    throw fail(`${who} with KeyCertSign key usage`);
  }
  if (leafFacts.keyUsage?.cRLSign === true) throw fail(`${who} with KeyCrlSign key usage`);

  let authorities: readonly X509Certificate[];
  try {
    authorities = bundleSource.getX509BundleForTrustDomain(id.trustDomain).x509Authorities;
  } catch (err) {
    if (err instanceof BundleNotFoundError) {
      throw fail(
        `could not get X509 bundle for trust domain "${id.trustDomain.name}" of ${who}: ${err.message}`,
        err,
      );
    }
    throw err;
  }

  const leafProblem = commonProblem(leafFacts, now);
  if (leafProblem !== undefined)
    throw fail(`could not verify leaf certificate: ${who} ${leafProblem}`);

  // The anchors are exactly the bundle's authorities; a peer-sent copy of one is the same anchor.
  const pool: X509Certificate[] = [];
  for (const cert of chain.slice(1)) {
    if (authorities.some((a) => a.raw.equals(cert.raw))) continue;
    if (pool.some((p) => p.raw.equals(cert.raw))) continue;
    pool.push(cert);
  }
  const search: Search = {
    now,
    anchors: authorities,
    pool,
    chains: [],
    reasons: [],
    signatureChecks: 0,
    steps: 0,
  };
  extend(search, [leaf]);
  if (search.chains.length === 0) {
    const detail = search.reasons.length > 0 ? `; ${search.reasons.join('; ')}` : '';
    const empty = authorities.length === 0 ? ' (the bundle is empty)' : '';
    throw fail(
      `could not verify leaf certificate: ${who}: certificate signed by unknown authority (trust domain "${id.trustDomain.name}"${empty})${detail}`,
    );
  }
  return Object.freeze({
    id,
    verifiedChains: Object.freeze(search.chains.map((c) => Object.freeze(c))),
  });
}

/**
 * Parses DER certificates (leaf first, as a TLS stack hands them over) and verifies them with
 * {@link verifyX509Svid}. Parsed certificates are kept in a bounded cache keyed by their bytes, so
 * a chain seen before costs no OpenSSL parsing. Throws {@link X509SvidVerificationError}.
 *
 * @example
 * ```ts
 * import { parseAndVerifyX509Svid } from 'spiffe-sdk/svid';
 *
 * const { id } = parseAndVerifyX509Svid([leafDer, intermediateDer], bundleSet);
 * ```
 */
export function parseAndVerifyX509Svid(
  rawCertificates: readonly Uint8Array[],
  bundleSource: X509BundleSource,
  options: VerifyX509SvidOptions = {},
): VerifiedX509Svid {
  if (!isArray(rawCertificates) || rawCertificates.length === 0) {
    throw fail('empty certificates chain');
  }
  if (rawCertificates.length > MAX_X509_CHAIN_LENGTH) {
    throw fail(
      `certificates chain has ${rawCertificates.length} certificates; at most ${MAX_X509_CHAIN_LENGTH} are accepted`,
    );
  }
  const chain = rawCertificates.map((der, i) => {
    try {
      if (!(der instanceof Uint8Array)) throw new DecodeError('not a Uint8Array');
      return cachedCertificate(der);
    } catch (err) {
      if (err instanceof DecodeError) {
        throw fail(`unable to parse certificate ${i}: ${err.message}`, err);
      }
      throw err;
    }
  });
  return verifyX509Svid(chain, bundleSource, options);
}
