/**
 * A bounded LRU from certificate DER bytes to the parsed `X509Certificate`. The TLS layer verifies
 * the peer's raw chain on every handshake; OpenSSL's decoder costs about 0.2 ms per certificate, so
 * re-parsing the same few certificates each time would dominate the cost. Reusing the same object
 * also reuses its cached `certificateFacts` and signature results.
 */
import type { X509Certificate } from 'node:crypto';
import { DecodeError, parseCertificateDer } from '../der.js';

/**
 * Parses exactly one DER certificate. Node's constructor also takes PEM and ignores bytes after the
 * certificate; like Go's `x509.ParseCertificate`, this rejects both (the re-encoded DER must be the
 * input, byte for byte).
 */
export function parseExactCertificate(der: Uint8Array): X509Certificate {
  const cert = parseCertificateDer(der);
  if (!cert.raw.equals(der)) {
    throw new DecodeError('malformed certificate: the input is not exactly one DER certificate');
  }
  return cert;
}

/** A small least-recently-used map with a fixed capacity (a `Map` keeps insertion order). */
export class BoundedLru<V> {
  readonly #max: number;
  readonly #map = new Map<string, V>();

  constructor(max: number) {
    this.#max = max;
  }

  get size(): number {
    return this.#map.size;
  }

  get(key: string): V | undefined {
    const hit = this.#map.get(key);
    if (hit !== undefined) {
      this.#map.delete(key);
      this.#map.set(key, hit);
    }
    return hit;
  }

  set(key: string, value: V): void {
    this.#map.delete(key);
    this.#map.set(key, value);
    if (this.#map.size > this.#max) {
      const oldest = this.#map.keys().next();
      if (oldest.done !== true) this.#map.delete(oldest.value);
    }
  }

  clear(): void {
    this.#map.clear();
  }
}

/** How many distinct certificates are kept. */
export const CERTIFICATE_CACHE_SIZE = 1024;

/** DER larger than this is parsed but not cached (no SVID chain element is this large). */
export const MAX_CACHED_DER = 64 * 1024;

const lru = new BoundedLru<X509Certificate>(CERTIFICATE_CACHE_SIZE);

/**
 * Parses `der` as one certificate, or returns the cached object for identical bytes. Throws
 * `DecodeError` (from `src/internal/der.ts`) for bytes that are not one certificate.
 */
export function cachedCertificate(der: Uint8Array): X509Certificate {
  if (der.length > MAX_CACHED_DER) return parseExactCertificate(der);
  // latin1 maps bytes 1:1 to characters, so the key is exact; no hash collisions to reason about.
  const key = Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString('latin1');
  const hit = lru.get(key);
  if (hit !== undefined) return hit;
  const cert = parseExactCertificate(der);
  lru.set(key, cert);
  return cert;
}

/** Empties the cache (for tests and benchmarks). */
export function clearCertificateCache(): void {
  lru.clear();
}
