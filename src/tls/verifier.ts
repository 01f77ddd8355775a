import type { X509Certificate } from 'node:crypto';
import type { DetailedPeerCertificate, PeerCertificate, TLSSocket } from 'node:tls';
import { X509SvidVerificationError } from '../errors.js';
import type { X509BundleSet } from '../bundle/x509-bundle-set.js';
import type { SpiffeId } from '../spiffeid/index.js';
import { parseAndVerifyX509Svid, verifyX509Svid } from '../svid/verify-x509-svid.js';

/** A TLS peer whose X509-SVID verified: its SPIFFE ID and the verified chains. */
export interface VerifiedPeer {
  readonly id: SpiffeId;
  readonly verifiedChains: readonly (readonly X509Certificate[])[];
}

interface CacheEntry {
  readonly peer: VerifiedPeer;
  /** Per verified chain: [latest notBefore, earliest notAfter] in epoch ms. */
  readonly windows: readonly (readonly [number, number])[];
  /** When every verified chain is valid (the fast path of a lookup). */
  readonly allFrom: number;
  readonly allTo: number;
}

/** Longest peer chain we walk (Node links chains by issuer name; this bounds loops and padding). */
const MAX_CHAIN = 16;

/**
 * Entries in one generation's verification cache; the oldest entry is evicted first (insertion
 * order: an evicted peer is simply verified again).
 */
export const VERIFY_CACHE_SIZE = 4096;

const validity = new WeakMap<X509Certificate, readonly [number, number]>();

function windowOf(cert: X509Certificate): readonly [number, number] {
  let w = validity.get(cert);
  if (w === undefined) {
    w = [Date.parse(cert.validFrom), Date.parse(cert.validTo)] as const;
    validity.set(cert, w);
  }
  return w;
}

function chainWindow(chain: readonly X509Certificate[]): readonly [number, number] {
  let from = -Infinity;
  let to = Infinity;
  for (const cert of chain) {
    const [nb, na] = windowOf(cert);
    if (nb > from) from = nb;
    if (na < to) to = na;
  }
  return [from, to] as const;
}

/**
 * Verifies peer X509-SVIDs against ONE immutable bundle set, and remembers the results by the
 * SHA-256 fingerprint of the leaf. A remembered result is reused only while the bundle set is the
 * same (a new set gets a new verifier) and while every certificate of a verified chain is still
 * within its validity period; the authorizer is never cached and runs on every connection.
 *
 * Reusing the result of a leaf (rather than of the exact chain the peer sent) is sound because
 * what verification establishes is "this leaf is certified by an authority of its trust domain";
 * the TLS handshake itself proves that the peer holds the leaf's private key, every time.
 */
export class PeerVerifier {
  readonly bundles: X509BundleSet;
  readonly #cache = new Map<string, CacheEntry>();
  readonly #max: number;

  constructor(bundles: X509BundleSet, maxEntries = VERIFY_CACHE_SIZE) {
    this.bundles = bundles;
    this.#max = maxEntries;
  }

  /** The remembered result for the leaf with this fingerprint, if still valid at `now`. */
  lookup(fingerprint256: string, now: number): VerifiedPeer | undefined {
    const entry = this.#cache.get(fingerprint256);
    if (entry === undefined) return undefined;
    if (entry.allFrom <= now && now <= entry.allTo) return entry.peer;
    const valid: (readonly X509Certificate[])[] = [];
    entry.windows.forEach(([from, to], i) => {
      const chain = entry.peer.verifiedChains[i];
      if (chain !== undefined && from <= now && now <= to) valid.push(chain);
    });
    if (valid.length === 0) {
      this.#cache.delete(fingerprint256);
      return undefined;
    }
    return Object.freeze({ id: entry.peer.id, verifiedChains: Object.freeze(valid) });
  }

  /** Whether any result is remembered for this leaf fingerprint (tests and diagnostics). */
  has(fingerprint256: string): boolean {
    return this.#cache.has(fingerprint256);
  }

  #remember(fingerprint256: string, peer: VerifiedPeer): VerifiedPeer {
    const windows = peer.verifiedChains.map(chainWindow);
    let allFrom = -Infinity;
    let allTo = Infinity;
    for (const [from, to] of windows) {
      if (from > allFrom) allFrom = from;
      if (to < allTo) allTo = to;
    }
    this.#cache.delete(fingerprint256);
    this.#cache.set(fingerprint256, { peer, windows, allFrom, allTo });
    if (this.#cache.size > this.#max) {
      const oldest = this.#cache.keys().next();
      if (oldest.done !== true) this.#cache.delete(oldest.value);
    }
    return peer;
  }

  /** Verifies a chain of DER certificates (leaf first) and remembers the result. */
  verifyRaw(raw: readonly Uint8Array[], fingerprint256: string, now: number): VerifiedPeer {
    const { id, verifiedChains } = parseAndVerifyX509Svid(raw, this.bundles, {
      time: new Date(now),
    });
    return this.#remember(fingerprint256, freezePeer(id, verifiedChains));
  }

  /** Verifies parsed certificates (leaf first) and remembers the result. */
  verifyCertificates(
    chain: readonly X509Certificate[],
    fingerprint256: string,
    now: number,
  ): VerifiedPeer {
    const { id, verifiedChains } = verifyX509Svid(chain, this.bundles, { time: new Date(now) });
    return this.#remember(fingerprint256, freezePeer(id, verifiedChains));
  }
}

function freezePeer(
  id: SpiffeId,
  verifiedChains: readonly (readonly X509Certificate[])[],
): VerifiedPeer {
  return Object.freeze({
    id,
    verifiedChains: Object.freeze(verifiedChains.map((c) => Object.freeze([...c]))),
  });
}

function noCertificate(who: string): X509SvidVerificationError {
  return new X509SvidVerificationError(`the ${who} presented no certificate`);
}

/**
 * The DER chain (leaf first) and the leaf fingerprint from the legacy certificate object that Node
 * hands to `checkServerIdentity`. Node links that chain by issuer name and may append a root from
 * the local store; the SVID verification does its own path building, so the order and extra
 * certificates do not matter.
 */
export function chainFromLegacy(cert: PeerCertificate | DetailedPeerCertificate | undefined): {
  raw: Buffer[];
  fingerprint256: string;
} {
  const leaf = cert as Partial<DetailedPeerCertificate> | undefined;
  if (leaf?.raw === undefined || typeof leaf.fingerprint256 !== 'string') {
    throw noCertificate('server');
  }
  const raw: Buffer[] = [];
  const seen = new Set<object>();
  for (
    let c: Partial<DetailedPeerCertificate> | undefined = leaf;
    c?.raw !== undefined && !seen.has(c) && raw.length < MAX_CHAIN;
    c = c.issuerCertificate as Partial<DetailedPeerCertificate> | undefined
  ) {
    seen.add(c);
    raw.push(c.raw);
  }
  return { raw, fingerprint256: leaf.fingerprint256 };
}

/** The peer's certificates (leaf first) as Node links them on a live socket. */
export function chainFromSocket(socket: TLSSocket): X509Certificate[] {
  const chain: X509Certificate[] = [];
  const seen = new Set<X509Certificate>();
  for (
    let c: X509Certificate | undefined = socket.getPeerX509Certificate();
    c !== undefined && !seen.has(c) && chain.length < MAX_CHAIN;
    c = c.issuerCertificate
  ) {
    seen.add(c);
    chain.push(c);
  }
  if (chain.length === 0) throw noCertificate('client');
  return chain;
}

/** The leaf fingerprint of a server-side socket's peer, or an error when it sent none. */
export function peerFingerprint(socket: TLSSocket): string {
  const leaf = socket.getPeerCertificate() as Partial<PeerCertificate> | null | undefined;
  const fp = leaf?.fingerprint256;
  if (typeof fp !== 'string' || fp === '') throw noCertificate('client');
  return fp;
}
