import type { X509Certificate } from 'node:crypto';
import { BundleNotFoundError, InvalidBundleError } from '../errors.js';
import {
  DecodeError,
  encodePemCertificates,
  parseDerCertificates,
  parsePemCertificates,
  sameCertificate,
} from '../internal/der.js';
import type { TrustDomain } from '../spiffeid/index.js';
import { readBoundedFile } from './file.js';
import { MAX_BUNDLE_DOCUMENT_SIZE } from './limits.js';
import type { X509BundleSource } from './source.js';

/**
 * Wraps a failure of the PEM/DER decoders. Besides their own DecodeError, asn1js can throw plain
 * errors on hostile DER (for example a top-level GeneralizedTime that does not convert), and those
 * must not escape as anything but an InvalidBundleError either.
 */
function wrap(err: unknown, what: string): InvalidBundleError {
  const reason =
    err instanceof DecodeError
      ? err.message
      : `malformed DER: ${err instanceof Error ? err.message : String(err)}`;
  return new InvalidBundleError(`cannot parse X.509 bundle ${what}: ${reason}`, { cause: err });
}

/**
 * The X.509 authorities (CA certificates) of one trust domain: the roots that X509-SVIDs of that
 * trust domain must chain to. Immutable: the `with…` methods return a new bundle. An empty bundle
 * is valid and trusts nothing.
 *
 * @example
 * ```ts
 * import { X509Bundle } from 'spiffe-sdk/bundle';
 * import { TrustDomain } from 'spiffe-sdk/spiffeid';
 *
 * const bundle = X509Bundle.parse(TrustDomain.parse('example.org'), pemText);
 * bundle.x509Authorities.length; // number of CA certificates
 * ```
 */
export class X509Bundle implements X509BundleSource {
  /** The trust domain these authorities belong to. */
  readonly trustDomain: TrustDomain;
  /** The authorities, de-duplicated, in the order first seen. Frozen. */
  readonly x509Authorities: readonly X509Certificate[];

  private constructor(trustDomain: TrustDomain, authorities: Iterable<X509Certificate>) {
    // A set of DER encodings keeps de-duplication linear: a hostile bundle may hold many
    // thousands of certificates.
    const seen = new Set<string>();
    const unique: X509Certificate[] = [];
    for (const cert of authorities) {
      const der = cert.raw.toString('base64');
      if (seen.has(der)) continue;
      seen.add(der);
      unique.push(cert);
    }
    this.trustDomain = trustDomain;
    this.x509Authorities = Object.freeze(unique);
    Object.freeze(this);
  }

  /**
   * An empty bundle for `trustDomain`: valid, and trusts nothing.
   *
   * @example
   * ```ts
   * X509Bundle.empty(TrustDomain.parse('example.org')).isEmpty(); // true
   * ```
   */
  static empty(trustDomain: TrustDomain): X509Bundle {
    return new X509Bundle(trustDomain, []);
  }

  /**
   * A bundle holding `authorities` (duplicates are dropped).
   *
   * @example
   * ```ts
   * const bundle = X509Bundle.fromAuthorities(td, [new X509Certificate(caPem)]);
   * ```
   */
  static fromAuthorities(
    trustDomain: TrustDomain,
    authorities: Iterable<X509Certificate>,
  ): X509Bundle {
    return new X509Bundle(trustDomain, authorities);
  }

  /**
   * Parses PEM `CERTIFICATE` blocks; other block types and text between blocks are ignored. Empty
   * input gives an empty bundle. Throws {@link InvalidBundleError}.
   *
   * @example
   * ```ts
   * const bundle = X509Bundle.parse(td, fs.readFileSync('bundle.pem'));
   * ```
   */
  static parse(trustDomain: TrustDomain, pem: string | Uint8Array): X509Bundle {
    if (pem.length === 0) return X509Bundle.empty(trustDomain);
    try {
      return new X509Bundle(trustDomain, parsePemCertificates(pem));
    } catch (err) {
      throw wrap(err, `for trust domain "${trustDomain.name}"`);
    }
  }

  /**
   * Parses concatenated DER certificates (the Workload API's encoding). Empty input gives an
   * empty bundle. Throws {@link InvalidBundleError}.
   *
   * @example
   * ```ts
   * const bundle = X509Bundle.parseRaw(td, response.bundle);
   * ```
   */
  static parseRaw(trustDomain: TrustDomain, der: Uint8Array): X509Bundle {
    try {
      return new X509Bundle(trustDomain, parseDerCertificates(der));
    } catch (err) {
      throw wrap(err, `for trust domain "${trustDomain.name}"`);
    }
  }

  /**
   * Reads and parses a PEM file. Throws {@link InvalidBundleError} for bad content or a file larger
   * than {@link MAX_BUNDLE_DOCUMENT_SIZE}; file system errors (such as `ENOENT`) and aborts are
   * passed through unchanged.
   *
   * @example
   * ```ts
   * const bundle = await X509Bundle.load(td, '/etc/spiffe/bundle.pem');
   * ```
   */
  static async load(
    trustDomain: TrustDomain,
    path: string,
    options: { signal?: AbortSignal } = {},
  ): Promise<X509Bundle> {
    const pem = await readBoundedFile(path, MAX_BUNDLE_DOCUMENT_SIZE, options.signal);
    try {
      return X509Bundle.parse(trustDomain, pem);
    } catch (err) {
      if (err instanceof InvalidBundleError) {
        throw new InvalidBundleError(`${err.message} (file ${path})`, { cause: err });
      }
      throw err;
    }
  }

  /**
   * Whether the bundle has no authorities.
   *
   * @example
   * ```ts
   * if (bundle.isEmpty()) console.warn('nothing is trusted for', bundle.trustDomain.name);
   * ```
   */
  isEmpty(): boolean {
    return this.x509Authorities.length === 0;
  }

  /**
   * Whether `cert` (compared by DER bytes) is one of the authorities.
   *
   * @example
   * ```ts
   * bundle.hasAuthority(caCert); // true or false
   * ```
   */
  hasAuthority(cert: X509Certificate): boolean {
    return this.x509Authorities.some((c) => sameCertificate(c, cert));
  }

  /**
   * A new bundle that also holds `cert` (unchanged if it is already present).
   *
   * @example
   * ```ts
   * const next = bundle.withAuthority(newCaCert);
   * ```
   */
  withAuthority(cert: X509Certificate): X509Bundle {
    return this.hasAuthority(cert)
      ? this
      : new X509Bundle(this.trustDomain, [...this.x509Authorities, cert]);
  }

  /**
   * A new bundle without `cert`.
   *
   * @example
   * ```ts
   * const next = bundle.withoutAuthority(retiredCaCert);
   * ```
   */
  withoutAuthority(cert: X509Certificate): X509Bundle {
    return new X509Bundle(
      this.trustDomain,
      this.x509Authorities.filter((c) => !sameCertificate(c, cert)),
    );
  }

  /**
   * The authorities as PEM `CERTIFICATE` blocks (empty string for an empty bundle).
   *
   * @example
   * ```ts
   * fs.writeFileSync('bundle.pem', bundle.marshal());
   * ```
   */
  marshal(): string {
    return encodePemCertificates(this.x509Authorities);
  }

  /**
   * Whether `other` has the same trust domain and the same authorities in the same order.
   *
   * @example
   * ```ts
   * X509Bundle.parse(td, bundle.marshal()).equals(bundle); // true
   * ```
   */
  equals(other: X509Bundle): boolean {
    return (
      this.trustDomain.equals(other.trustDomain) &&
      this.x509Authorities.length === other.x509Authorities.length &&
      this.x509Authorities.every((c, i) => {
        const o = other.x509Authorities[i];
        return o !== undefined && sameCertificate(c, o);
      })
    );
  }

  /**
   * A bundle is a source of itself: returns `this` for its own trust domain and throws
   * {@link BundleNotFoundError} for any other.
   *
   * @example
   * ```ts
   * verifyX509Svid(chain, bundle); // a single bundle can be the bundle source
   * ```
   */
  getX509BundleForTrustDomain(trustDomain: TrustDomain): X509Bundle {
    if (!this.trustDomain.equals(trustDomain))
      throw new BundleNotFoundError(trustDomain.name, 'X.509');
    return this;
  }
}
