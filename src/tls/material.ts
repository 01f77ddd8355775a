import { createHash, randomBytes, type X509Certificate } from 'node:crypto';
import { InvalidArgumentError, TlsConfigurationError } from '../errors.js';
import type { X509BundleSet } from '../bundle/x509-bundle-set.js';
import type { X509Svid } from '../svid/x509-svid.js';
import type { SourceUpdates, X509TrustSource } from './source.js';
import { PeerVerifier } from './verifier.js';
import type { X509SvidSource } from '../svid/x509-svid-source.js';

/** What a mode reads from its source. */
export type AnySource = Partial<X509SvidSource> & Partial<X509TrustSource> & SourceUpdates;

const pemOfCert = new WeakMap<X509Certificate, string>();
const pemOfSvid = new WeakMap<X509Svid, { readonly key: string; readonly cert: string }>();

/** PEM of one certificate, cached: OpenSSL ignores DER `ca` entries without an error. */
export function certificatePem(cert: X509Certificate): string {
  let pem = pemOfCert.get(cert);
  if (pem === undefined) {
    pem = cert.toString();
    pemOfCert.set(cert, pem);
  }
  return pem;
}

function svidPem(svid: X509Svid): { readonly key: string; readonly cert: string } {
  let pem = pemOfSvid.get(svid);
  if (pem === undefined) {
    let key: string;
    try {
      key = svid.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    } catch (err) {
      // The key is never part of the message, only the reason OpenSSL gave.
      throw new TlsConfigurationError(
        `cannot export the private key of X509-SVID "${svid.id.toString()}" as PKCS#8`,
        { cause: err },
      );
    }
    pem = Object.freeze({ key, cert: svid.certificates.map(certificatePem).join('') });
    pemOfSvid.set(svid, pem);
  }
  return pem;
}

const selfSigned = new WeakMap<X509Certificate, boolean>();

/** Whether `cert` is self-issued and verifies with its own key (a root, not an intermediate). */
function isSelfSigned(cert: X509Certificate): boolean {
  let result = selfSigned.get(cert);
  if (result === undefined) {
    try {
      result = cert.checkIssued(cert) && cert.verify(cert.publicKey);
    } catch {
      result = false;
    }
    selfSigned.set(cert, result);
  }
  return result;
}

/**
 * One immutable snapshot of a mode's material: the SVID it presents and the bundles it trusts,
 * with everything derived from them (PEM for OpenSSL, the verification cache, a digest that binds
 * TLS sessions to exactly this material). Built once per change of the source, never per
 * connection.
 */
export class Generation {
  /** Increases by one with every new generation of a tracker. */
  readonly seq: number;
  readonly svid: X509Svid | undefined;
  readonly bundles: X509BundleSet | undefined;
  /** The SVID's key and chain (leaf first) as PEM, when the mode presents the SVID. */
  readonly svidPem: { readonly key: string; readonly cert: string } | undefined;
  /** Every authority of every bundle as PEM: OpenSSL's prefilter trust store. */
  readonly caPem: readonly string[] | undefined;
  /**
   * Whether some authority is not self-signed (an intermediate used as a trust anchor). OpenSSL
   * then needs `X509_V_FLAG_PARTIAL_CHAIN` (Node's `allowPartialTrustChain`) to treat it as one.
   */
  readonly partialChain: boolean;
  /** SHA-256 fingerprints of the authorities, by trust domain name. */
  readonly authorities: ReadonlyMap<string, ReadonlySet<string>>;
  readonly verifier: PeerVerifier | undefined;
  /** Hex SHA-256 over the material and the tracker's salt. */
  readonly digest: string;

  constructor(
    seq: number,
    svid: X509Svid | undefined,
    bundles: X509BundleSet | undefined,
    previous: Generation | undefined,
    salt: string,
  ) {
    this.seq = seq;
    this.svid = svid;
    this.bundles = bundles;
    this.svidPem = svid === undefined ? undefined : svidPem(svid);
    const hash = createHash('sha256').update(salt);
    if (svid !== undefined) {
      hash.update('svid');
      for (const c of svid.certificates) hash.update(c.fingerprint256);
    }
    const authorities = new Map<string, ReadonlySet<string>>();
    let partialChain = false;
    if (bundles === undefined) {
      this.caPem = undefined;
      this.verifier = undefined;
    } else {
      const pem: string[] = [];
      for (const bundle of bundles.bundles()) {
        const fps = new Set<string>();
        hash.update(`td:${bundle.trustDomain.name}`);
        for (const cert of bundle.x509Authorities) {
          fps.add(cert.fingerprint256);
          hash.update(cert.fingerprint256);
          pem.push(certificatePem(cert));
          if (!partialChain && !isSelfSigned(cert)) partialChain = true;
        }
        authorities.set(bundle.trustDomain.name, fps);
      }
      if (pem.length === 0) {
        // `ca: []` would trust nothing, but a falsy or missing `ca` makes Node load the public Web
        // PKI roots. Refuse loudly instead of relying on the difference.
        throw new TlsConfigurationError(
          bundles.size === 0
            ? 'no X.509 bundle at all: refusing to build a TLS context that trusts no SPIFFE authority'
            : `the X.509 bundles of ${bundles
                .bundles()
                .map((b) => `"${b.trustDomain.name}"`)
                .join(
                  ', ',
                )} hold no authority: refusing to build a TLS context that trusts nothing`,
        );
      }
      this.caPem = Object.freeze(pem);
      this.verifier =
        previous?.bundles === bundles && previous.verifier !== undefined
          ? previous.verifier
          : new PeerVerifier(bundles);
    }
    this.authorities = authorities;
    this.partialChain = partialChain;
    this.digest = hash.digest('hex');
    Object.freeze(this);
  }

  /** Whether some authority (or whole trust domain) of `older` is missing here. */
  removesTrustOf(older: Generation): boolean {
    for (const [td, fps] of older.authorities) {
      const now = this.authorities.get(td);
      if (now === undefined) return true;
      for (const fp of fps) if (!now.has(fp)) return true;
    }
    return false;
  }
}

/**
 * Reads a source and hands out the current {@link Generation}, rebuilding it only when the source
 * returns a different SVID or bundle set object (sources hand out immutable snapshots, so object
 * identity is change detection). A failed build is remembered for the same inputs, so a broken
 * source costs one failed build, not one per connection.
 */
export class MaterialTracker {
  readonly source: AnySource;
  readonly needSvid: boolean;
  readonly needBundles: boolean;
  readonly #salt = randomBytes(16).toString('hex');
  #svid: X509Svid | undefined;
  #bundles: X509BundleSet | undefined;
  #current: Generation | undefined;
  #failure:
    { svid: X509Svid | undefined; bundles: X509BundleSet | undefined; error: unknown } | undefined;
  #seq = 0;

  constructor(source: AnySource, needSvid: boolean, needBundles: boolean, what: string) {
    if (typeof source !== 'object' || (source as unknown) === null) {
      throw new InvalidArgumentError(`${what}: the source must be an object`);
    }
    if (needSvid && typeof source.getX509Svid !== 'function') {
      throw new InvalidArgumentError(`${what}: the source has no getX509Svid() method`);
    }
    if (needBundles && typeof source.getX509BundleSet !== 'function') {
      throw new InvalidArgumentError(`${what}: the source has no getX509BundleSet() method`);
    }
    if (source.onUpdate !== undefined && typeof source.onUpdate !== 'function') {
      throw new InvalidArgumentError(`${what}: the source's onUpdate must be a method`);
    }
    this.source = source;
    this.needSvid = needSvid;
    this.needBundles = needBundles;
  }

  /** The generation for the source's current material (may throw TlsConfigurationError etc.). */
  current(): Generation {
    const svid = this.needSvid ? this.source.getX509Svid?.() : undefined;
    const bundles = this.needBundles ? this.source.getX509BundleSet?.() : undefined;
    const cur = this.#current;
    if (cur !== undefined && svid === this.#svid && bundles === this.#bundles) return cur;
    const failed = this.#failure;
    if (failed !== undefined) {
      if (failed.svid === svid && failed.bundles === bundles) throw failed.error;
    }
    try {
      const next = new Generation(this.#seq + 1, svid, bundles, cur, this.#salt);
      this.#svid = svid;
      this.#bundles = bundles;
      this.#failure = undefined;
      // New objects with the same content (a source that re-sends unchanged material) keep the
      // current generation: no new TLS context, no rotation, and the verification cache stays.
      if (cur?.digest === next.digest) return cur;
      this.#seq += 1;
      this.#current = next;
      return next;
    } catch (error) {
      this.#failure = { svid, bundles, error };
      throw error;
    }
  }

  /** Subscribes to the source's changes, if it has any; returns the unsubscribe function. */
  subscribe(listener: () => void): () => void {
    const off = this.source.onUpdate?.(listener);
    return typeof off === 'function' ? off : () => undefined;
  }
}
