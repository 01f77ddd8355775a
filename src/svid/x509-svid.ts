import {
  createPrivateKey,
  createPublicKey,
  type KeyObject,
  type X509Certificate,
} from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { inspect } from 'node:util';
import { InvalidX509SvidError } from '../errors.js';
import { DecodeError, decodePem, encodePemCertificates } from '../internal/der.js';
import { Asn1Error, splitDerElements } from '../internal/x509/asn1.js';
import { parseExactCertificate } from '../internal/x509/cert-cache.js';
import { certificateFacts } from '../internal/x509/facts.js';
import type { SpiffeId } from '../spiffeid/index.js';
import type { X509SvidSource } from './x509-svid-source.js';

/** An SVID as PEM text, from {@link X509Svid.marshal}. */
export interface MarshaledX509Svid {
  /** The certificates as PEM `CERTIFICATE` blocks, leaf first. */
  readonly certificates: string;
  /** The private key as a PEM PKCS#8 `PRIVATE KEY` block. */
  readonly privateKey: string;
}

/** An SVID as DER bytes (the Workload API encoding), from {@link X509Svid.marshalRaw}. */
export interface MarshaledRawX509Svid {
  /** The certificates' DER, concatenated, leaf first. */
  readonly certificates: Uint8Array;
  /** The private key as DER PKCS#8. */
  readonly privateKey: Uint8Array;
}

/** The JSON form of an {@link X509Svid}: no key material. */
export interface X509SvidJson {
  /** The SPIFFE ID. */
  readonly id: string;
  /** The hint. */
  readonly hint: string;
  /** The leaf's expiry, ISO 8601. */
  readonly expiresAt: string;
  /** The certificates as PEM, leaf first. */
  readonly certificates: string[];
}

/** Options of {@link X509Svid.parse}, {@link X509Svid.parseRaw} and {@link X509Svid.fromCertificates}. */
export interface X509SvidOptions {
  /** An operator-chosen label that tells several SVIDs of one workload apart (Workload API `hint`). */
  readonly hint?: string;
}

function invalid(message: string, cause?: unknown): InvalidX509SvidError {
  return new InvalidX509SvidError(
    `invalid X509-SVID: ${message}`,
    cause === undefined ? undefined : { cause },
  );
}

/** Checks the private key's type and size (X509-SVID leaves: RSA >= 2048, P-256, P-384, Ed25519). */
function checkKeyType(key: KeyObject): void {
  const type = key.asymmetricKeyType;
  const details = key.asymmetricKeyDetails ?? {};
  if (type === 'rsa') {
    const bits = details.modulusLength ?? 0;
    if (bits < 2048) {
      throw invalid(
        `private key validation failed: RSA key of ${bits} bits; at least 2048 are required`,
      );
    }
    return;
  }
  if (type === 'ec') {
    if (details.namedCurve === 'prime256v1' || details.namedCurve === 'secp384r1') return;
    throw invalid(
      `private key validation failed: unsupported EC curve ${String(details.namedCurve)}; P-256 and P-384 are supported`,
    );
  }
  if (type === 'ed25519') return;
  throw invalid(
    `private key validation failed: unsupported private key type ${String(type)}; RSA, ECDSA (P-256, P-384) and Ed25519 are supported`,
  );
}

/**
 * The X509-SVID rules that apply to a set of certificates and a key held by the workload itself
 * (X509-SVID §3, §4; go-spiffe `x509svid.Parse`). Returns the leaf's SPIFFE ID.
 */
function validate(
  certificates: readonly X509Certificate[],
  privateKey: KeyObject,
): { id: SpiffeId; notAfter: number } {
  const leaf = certificates[0];
  if (leaf === undefined) throw invalid('certificate validation failed: no certificates found');
  const facts = certificateFacts(leaf);
  if (facts.malformed !== undefined) {
    throw invalid(
      `certificate validation failed: leaf certificate is malformed: ${facts.malformed}`,
    );
  }
  const id = facts.spiffeId;
  if (id === undefined) {
    throw invalid(
      `certificate validation failed: cannot get leaf certificate SPIFFE ID: ${String(facts.spiffeIdProblem)}`,
    );
  }
  if (id.path === '') {
    throw invalid(
      `certificate validation failed: leaf certificate SPIFFE ID "${id.toString()}" must have a non-root path`,
    );
  }
  if (facts.basicConstraints?.ca === true) {
    throw invalid(
      `certificate validation failed: leaf certificate "${id.toString()}" must not have CA flag set to true`,
    );
  }
  if (facts.keyUsage?.digitalSignature !== true) {
    throw invalid(
      `certificate validation failed: leaf certificate "${id.toString()}" must have 'digitalSignature' set as key usage`,
    );
  }
  if (facts.keyUsage.keyCertSign) {
    throw invalid(
      `certificate validation failed: leaf certificate "${id.toString()}" must not have 'keyCertSign' set as key usage`,
    );
  }
  if (facts.keyUsage.cRLSign) {
    throw invalid(
      `certificate validation failed: leaf certificate "${id.toString()}" must not have 'cRLSign' set as key usage`,
    );
  }
  certificates.slice(1).forEach((cert, i) => {
    const f = certificateFacts(cert);
    const which = `signing certificate ${i + 1} (subject "${cert.subject.replace(/\n/g, ', ')}")`;
    if (f.malformed !== undefined) {
      throw invalid(`certificate validation failed: ${which} is malformed: ${f.malformed}`);
    }
    if (f.basicConstraints?.ca !== true) {
      throw invalid(`certificate validation failed: ${which} must have CA flag set to true`);
    }
    if (f.keyUsage?.keyCertSign !== true) {
      throw invalid(
        `certificate validation failed: ${which} must have 'keyCertSign' set as key usage`,
      );
    }
  });
  if (privateKey.type !== 'private') {
    throw invalid(
      `private key validation failed: expected a private key, got a ${privateKey.type} key`,
    );
  }
  checkKeyType(privateKey);
  let matches = false;
  try {
    matches = createPublicKey(privateKey).equals(leaf.publicKey);
  } catch {
    matches = false;
  }
  if (!matches) {
    throw invalid(
      `private key validation failed: leaf certificate "${id.toString()}" does not match private key`,
    );
  }
  return { id, notAfter: facts.notAfter };
}

function parsePkcs8Der(der: Uint8Array, what: string): KeyObject {
  try {
    return createPrivateKey({ key: Buffer.from(der), format: 'der', type: 'pkcs8' });
  } catch (err) {
    // OpenSSL's messages name the failure, never the key bytes.
    throw invalid(`cannot parse ${what} private key: ${(err as Error).message}`, err);
  }
}

/**
 * An X509-SVID: a leaf certificate carrying a SPIFFE ID, the intermediates that chain it to its
 * trust domain's authorities, and the private key for the leaf. Immutable and always valid: every
 * way of making one checks the X509-SVID rules (exactly one URI SAN that is a SPIFFE ID with a
 * non-root path; leaf not a CA, with `digitalSignature` and without `keyCertSign`/`cRLSign`; every
 * other certificate a CA with `keyCertSign`; a supported PKCS#8 key matching the leaf).
 *
 * Validity dates and signatures are not checked here; that is {@link verifyX509Svid}'s job.
 *
 * @example
 * ```ts
 * import { X509Svid } from 'spiffe-sdk/svid';
 *
 * const svid = await X509Svid.load('/run/spiffe/svid.pem', '/run/spiffe/svid.key');
 * svid.id.toString(); // 'spiffe://example.org/web'
 * const { certificates, privateKey } = svid.marshal(); // PEM, e.g. for tls.createSecureContext
 * ```
 */
export class X509Svid implements X509SvidSource {
  /** The SPIFFE ID of the leaf certificate. */
  readonly id: SpiffeId;
  /** The leaf certificate first, then the intermediates. Frozen. */
  readonly certificates: readonly X509Certificate[];
  /** The leaf's private key. Never printed by `toString`, `toJSON` or `util.inspect`. */
  readonly privateKey: KeyObject;
  /** The operator-chosen hint (empty when none). */
  readonly hint: string;
  /** When the leaf certificate expires. */
  readonly expiresAt: Date;

  private constructor(
    id: SpiffeId,
    certificates: readonly X509Certificate[],
    privateKey: KeyObject,
    hint: string,
    expiresAt: Date,
  ) {
    this.id = id;
    this.certificates = Object.freeze([...certificates]);
    this.privateKey = privateKey;
    this.hint = hint;
    this.expiresAt = expiresAt;
    Object.freeze(this);
  }

  /**
   * Builds an SVID from already parsed certificates (leaf first) and a private key, checking every
   * X509-SVID rule. Throws {@link InvalidX509SvidError}.
   *
   * @example
   * ```ts
   * const svid = X509Svid.fromCertificates([leafCert, intermediateCert], privateKeyObject);
   * ```
   */
  static fromCertificates(
    certificates: readonly X509Certificate[],
    privateKey: KeyObject,
    options: X509SvidOptions = {},
  ): X509Svid {
    const { id, notAfter } = validate(certificates, privateKey);
    return new X509Svid(id, certificates, privateKey, options.hint ?? '', new Date(notAfter));
  }

  /**
   * Parses PEM certificates (leaf first; non-certificate blocks are skipped, so one file may hold
   * both) and a PEM PKCS#8 `PRIVATE KEY` (the first such block is used; `EC PRIVATE KEY` and
   * `RSA PRIVATE KEY` blocks are not accepted). Throws {@link InvalidX509SvidError}.
   *
   * @example
   * ```ts
   * const svid = X509Svid.parse(fs.readFileSync('svid.pem'), fs.readFileSync('svid.key'));
   * ```
   */
  static parse(
    certificatesPem: string | Uint8Array,
    privateKeyPem: string | Uint8Array,
    options: X509SvidOptions = {},
  ): X509Svid {
    let certificates: X509Certificate[];
    try {
      certificates = decodePem(certificatesPem)
        .filter((b) => b.type === 'CERTIFICATE')
        .map((b) => parseExactCertificate(b.der));
    } catch (err) {
      if (err instanceof DecodeError) {
        throw invalid(`cannot parse PEM encoded certificate: ${err.message}`, err);
      }
      throw err;
    }
    if (certificates.length === 0) {
      throw invalid('certificate validation failed: no certificates found');
    }
    let blocks;
    try {
      blocks = decodePem(privateKeyPem);
    } catch (err) {
      if (err instanceof DecodeError) {
        throw invalid(`cannot parse PEM encoded private key: ${err.message}`, err);
      }
      throw err;
    }
    const block = blocks.find((b) => b.type === 'PRIVATE KEY');
    if (block === undefined) {
      const legacy = blocks.find((b) => b.type.endsWith('PRIVATE KEY'));
      throw invalid(
        legacy === undefined
          ? 'private key validation failed: no private key found'
          : `private key validation failed: no private key found; a "${legacy.type.slice(0, 40)}" block is not accepted, only PKCS#8 "PRIVATE KEY"`,
      );
    }
    return X509Svid.fromCertificates(
      certificates,
      parsePkcs8Der(block.der, 'PEM encoded'),
      options,
    );
  }

  /**
   * Parses concatenated DER certificates (leaf first) and a DER PKCS#8 private key, the encoding
   * the Workload API uses. Throws {@link InvalidX509SvidError}.
   *
   * @example
   * ```ts
   * const svid = X509Svid.parseRaw(response.x509Svid, response.x509SvidKey, { hint: response.hint });
   * ```
   */
  static parseRaw(
    certificatesDer: Uint8Array,
    privateKeyDer: Uint8Array,
    options: X509SvidOptions = {},
  ): X509Svid {
    let certificates: X509Certificate[];
    try {
      certificates = splitDerElements(certificatesDer, 'certificates').map(parseExactCertificate);
    } catch (err) {
      if (err instanceof DecodeError || err instanceof Asn1Error) {
        throw invalid(`cannot parse DER encoded certificate: ${err.message}`, err);
      }
      throw err;
    }
    if (certificates.length === 0) {
      throw invalid('certificate validation failed: no certificates found');
    }
    if (privateKeyDer.length === 0) {
      throw invalid('private key validation failed: no private key found');
    }
    return X509Svid.fromCertificates(
      certificates,
      parsePkcs8Der(privateKeyDer, 'DER encoded'),
      options,
    );
  }

  /**
   * Reads and parses PEM files; `certificatesFile` and `privateKeyFile` may be the same file.
   * Throws {@link InvalidX509SvidError} for bad content; file system errors (such as `ENOENT`) are
   * passed through unchanged.
   *
   * @example
   * ```ts
   * const svid = await X509Svid.load('svid.pem', 'svid.key', { signal: AbortSignal.timeout(1000) });
   * ```
   */
  static async load(
    certificatesFile: string,
    privateKeyFile: string,
    options: { signal?: AbortSignal } & X509SvidOptions = {},
  ): Promise<X509Svid> {
    const fsOptions = options.signal ? { signal: options.signal } : {};
    const certs = await readFile(certificatesFile, fsOptions);
    const key =
      privateKeyFile === certificatesFile ? certs : await readFile(privateKeyFile, fsOptions);
    return X509Svid.parse(certs, key, options.hint === undefined ? {} : { hint: options.hint });
  }

  /**
   * The certificates as PEM `CERTIFICATE` blocks and the key as a PEM PKCS#8 `PRIVATE KEY`.
   *
   * @example
   * ```ts
   * const { certificates, privateKey } = svid.marshal();
   * tls.createSecureContext({ cert: certificates, key: privateKey });
   * ```
   */
  marshal(): MarshaledX509Svid {
    return {
      certificates: encodePemCertificates(this.certificates),
      privateKey: this.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    };
  }

  /**
   * The certificates as concatenated DER and the key as DER PKCS#8 (the Workload API encoding).
   *
   * @example
   * ```ts
   * const { certificates, privateKey } = svid.marshalRaw();
   * X509Svid.parseRaw(certificates, privateKey).id.equals(svid.id); // true
   * ```
   */
  marshalRaw(): MarshaledRawX509Svid {
    return {
      certificates: new Uint8Array(Buffer.concat(this.certificates.map((c) => c.raw))),
      privateKey: new Uint8Array(this.privateKey.export({ type: 'pkcs8', format: 'der' })),
    };
  }

  /**
   * A copy of this SVID with another hint.
   *
   * @example
   * ```ts
   * const internal = svid.withHint('internal');
   * ```
   */
  withHint(hint: string): X509Svid {
    return hint === this.hint
      ? this
      : new X509Svid(this.id, this.certificates, this.privateKey, hint, this.expiresAt);
  }

  /**
   * An SVID is its own source: returns `this`.
   *
   * @example
   * ```ts
   * const source: X509SvidSource = svid;
   * source.getX509Svid() === svid; // true
   * ```
   */
  getX509Svid(): X509Svid {
    return this;
  }

  /**
   * A short description without key material.
   *
   * @example
   * ```ts
   * `${svid}`; // 'X509Svid(spiffe://example.org/web)'
   * ```
   */
  toString(): string {
    return `X509Svid(${this.id.toString()}${this.hint === '' ? '' : `, hint "${this.hint}"`})`;
  }

  /**
   * JSON form without key material: the ID, the hint, the expiry and the certificates as PEM.
   *
   * @example
   * ```ts
   * JSON.stringify(svid); // '{"id":"spiffe://example.org/web","hint":"",...}'
   * ```
   */
  toJSON(): X509SvidJson {
    return {
      id: this.id.toString(),
      hint: this.hint,
      expiresAt: this.expiresAt.toISOString(),
      certificates: this.certificates.map((c) => c.toString()),
    };
  }

  /** @internal util.inspect shows the same fields as toJSON, never the key. */
  [inspect.custom](): string {
    return `X509Svid { id: '${this.id.toString()}', hint: '${this.hint}', expiresAt: ${this.expiresAt.toISOString()}, certificates: ${this.certificates.length} }`;
  }
}
