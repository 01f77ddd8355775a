// @peculiar/x509 uses decorators that need the global Reflect metadata polyfill; it must load first.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { randomBytes, webcrypto, KeyObject, X509Certificate } from 'node:crypto';
import {
  BitString,
  Boolean as Asn1Boolean,
  Constructed,
  Integer,
  Primitive,
  Sequence,
} from 'asn1js';
import { X509Bundle } from '../bundle/x509-bundle.js';
import { InvalidArgumentError } from '../errors.js';
import { SpiffeId, TrustDomain } from '../spiffeid/index.js';
import { X509Svid } from '../svid/x509-svid.js';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

/** The key types the test CA can make for CAs and SVIDs. */
export type TestKeyType = 'ec-p256' | 'ec-p384' | 'rsa-2048' | 'ed25519';

/**
 * Key types for deliberately unusual certificates: the valid ones, keys that verifiers must reject
 * (`rsa-1024`) or that X509-SVIDs do not support (`ec-p521`), and an RSA 2048 key that signs
 * with RSASSA-PSS (`rsa-pss-2048`, for CA certificates).
 */
export type UncheckedKeyType = TestKeyType | 'rsa-1024' | 'ec-p521' | 'rsa-pss-2048';

/** Hash for the issuer's signature. `SHA-1` makes a weak signature for negative tests. */
export type TestSignatureHash = 'SHA-1' | 'SHA-256' | 'SHA-384' | 'SHA-512';

/** The names of the keyUsage bits (RFC 5280 §4.2.1.3). */
export type KeyUsageName =
  | 'digitalSignature'
  | 'nonRepudiation'
  | 'keyEncipherment'
  | 'dataEncipherment'
  | 'keyAgreement'
  | 'keyCertSign'
  | 'cRLSign'
  | 'encipherOnly'
  | 'decipherOnly';

/** An extension given as raw DER, for unknown or malformed extensions in negative tests. */
export interface RawExtension {
  /** The extension OID, dotted. */
  readonly oid: string;
  /** Whether the extension is marked critical. */
  readonly critical: boolean;
  /** The DER that goes inside the extension's OCTET STRING. */
  readonly value: Uint8Array;
}

/** Name constraints (RFC 5280 §4.2.1.10) for {@link TestCA.createIntermediate}. */
export interface TestNameConstraints {
  /** Permitted URI hosts, e.g. `a.org` (exactly) or `.a.org` (subdomains). */
  readonly permittedUris?: readonly string[];
  /** Excluded URI hosts, in the same forms. */
  readonly excludedUris?: readonly string[];
  /** Permitted DNS subtrees, e.g. `example.org`. */
  readonly permittedDns?: readonly string[];
  /** Excluded DNS subtrees. */
  readonly excludedDns?: readonly string[];
  /** Permitted email (rfc822Name) constraints: a form that SPIFFE verifiers do not check. */
  readonly permittedEmails?: readonly string[];
  /** Default `true` (RFC 5280 says the extension MUST be critical). */
  readonly critical?: boolean;
}

/** basicConstraints (RFC 5280 §4.2.1.9) for test certificates; anything goes. */
export interface TestBasicConstraints {
  /** The cA flag. */
  readonly ca: boolean;
  /** pathLenConstraint (omitted when undefined), also allowed with `ca: false` for negative tests. */
  readonly pathLen?: number;
  /** Default true. */
  readonly critical?: boolean;
}

/** Options of {@link TestCA.create}. */
export interface TestCAOptions {
  /** The trust domain whose authorities this CA plays. */
  readonly trustDomain: TrustDomain | string;
  /** Key type of the CA certificates. Default `ec-p256`. */
  readonly keyType?: TestKeyType;
  /** How many intermediates sit between the root and the SVIDs. Default 0. */
  readonly intermediates?: number;
  /** Lifetime of the CA certificates in seconds. Default one day. */
  readonly ttlSeconds?: number;
  /** A fixed clock for every certificate this CA makes (default: the real clock at each call). */
  readonly now?: Date;
  /**
   * The root's subject DN, e.g. `O=SPIFFE, CN=Root`. Default: a unique name. Two CAs with the same
   * root subject make "same-DN, different key" attacks testable.
   */
  readonly rootSubject?: string;
}

/** Options of {@link TestCA.issueX509Svid}. */
export interface IssueX509SvidOptions {
  /** Lifetime in seconds (default 3600), clamped so the SVID does not outlive its issuers. */
  readonly ttlSeconds?: number;
  /** Explicit start of validity (default: now). */
  readonly notBefore?: Date;
  /** Explicit end of validity; taken as given (not clamped). */
  readonly notAfter?: Date;
  /** Key type of the SVID (default `ec-p256`). */
  readonly keyType?: TestKeyType;
  /** DNS SANs besides the SPIFFE ID. */
  readonly dnsNames?: readonly string[];
  /** The SVID's hint. */
  readonly hint?: string;
  /** Sign with this CA certificate (from {@link TestCA.createIntermediate}) instead of the current chain. */
  readonly issuer?: TestCaCertificate;
}

/** Options of {@link TestCA.issueX509SvidUnchecked}: every field can break a rule. */
export interface UncheckedX509SvidOptions {
  /** The URI SANs, in order. Default: none. Any strings (uppercase, `%`, ports, …). */
  readonly uris?: readonly string[];
  /** DNS SANs, any strings (e.g. `x, URI:spiffe://a.org/admin`). */
  readonly dnsNames?: readonly string[];
  /** Mark the SAN extension critical. Default false. */
  readonly sanCritical?: boolean;
  /** Subject DN. Default `O=SPIFFE`. */
  readonly subject?: string;
  /** `false` omits basicConstraints; default `{ ca: false }` (critical). */
  readonly basicConstraints?: false | TestBasicConstraints;
  /** `false` omits keyUsage; default `['digitalSignature']`. An empty list encodes no bits. */
  readonly keyUsage?: false | readonly KeyUsageName[];
  /** Default true. */
  readonly keyUsageCritical?: boolean;
  /** `false` omits extendedKeyUsage; default serverAuth and clientAuth. */
  readonly extKeyUsage?: false | readonly string[];
  /** Extra extensions, added last (e.g. an unknown critical one). */
  readonly extensions?: readonly RawExtension[];
  /** Start of validity (default: now). */
  readonly notBefore?: Date;
  /** End of validity (default: `notBefore` + `ttlSeconds`). */
  readonly notAfter?: Date;
  /** Lifetime in seconds when `notAfter` is not given (default 3600; not clamped). */
  readonly ttlSeconds?: number;
  /** Key type of the leaf (default `ec-p256`). */
  readonly keyType?: UncheckedKeyType;
  /** Hash of the issuer's signature (default per issuer key). */
  readonly signatureHash?: TestSignatureHash;
  /** Sign with another test CA's current chain (e.g. another trust domain's). */
  readonly signer?: TestCA;
  /** Sign with this CA certificate (takes precedence over `signer`). */
  readonly issuer?: TestCaCertificate;
  /**
   * The certificates after the leaf. Default: the issuer's chain without the root. Use it for
   * missing, extra, duplicate or unordered intermediates.
   */
  readonly chain?: readonly X509Certificate[];
}

/** Options of {@link TestCA.createIntermediate}. */
export interface CreateIntermediateOptions {
  /** The issuing CA certificate. Default: the CA's current signing certificate. */
  readonly issuer?: TestCaCertificate;
  /** Sign with another test CA's current signing certificate. */
  readonly signer?: TestCA;
  /** `false` omits basicConstraints. Default `{ ca: true }` (critical). */
  readonly basicConstraints?: false | TestBasicConstraints;
  /** `false` omits keyUsage. Default `['keyCertSign', 'cRLSign']`. */
  readonly keyUsage?: false | readonly KeyUsageName[];
  /** Name constraints to add (none by default). */
  readonly nameConstraints?: TestNameConstraints;
  /** The URI SAN; `false` omits it. Default `spiffe://<trust domain>`. */
  readonly uri?: string | false;
  /** Subject DN. Default: a unique `O=SPIFFE, CN=TestCA … intermediate …`. */
  readonly subject?: string;
  /** Start of validity (default: now). */
  readonly notBefore?: Date;
  /** End of validity (default: `notBefore` + `ttlSeconds`). */
  readonly notAfter?: Date;
  /** Lifetime in seconds when `notAfter` is not given (default: the CA's ttl). */
  readonly ttlSeconds?: number;
  /** Key type (default: the CA's). */
  readonly keyType?: UncheckedKeyType;
  /** Reuse this CA certificate's key pair instead of a new one (cross-signing, rotation, loops). */
  readonly reuseKeyOf?: TestCaCertificate;
  /** Hash of the issuer's signature (default per issuer key). */
  readonly signatureHash?: TestSignatureHash;
  /** Extra extensions, added last. */
  readonly extensions?: readonly RawExtension[];
}

/**
 * Certificates and key of an SVID that was not validated, in every encoding tests need.
 */
export interface RawX509Svid {
  /** Leaf first. */
  readonly certificates: readonly X509Certificate[];
  /** The leaf's private key. */
  readonly privateKey: KeyObject;
  /** The certificates as PEM, leaf first. */
  readonly certificatesPem: string;
  /** PKCS#8 PEM. */
  readonly privateKeyPem: string;
  /** The certificates' DER, concatenated. */
  readonly certificatesDer: Uint8Array;
  /** PKCS#8 DER. */
  readonly privateKeyDer: Uint8Array;
}

const KEY_USAGE_BITS: readonly KeyUsageName[] = [
  'digitalSignature',
  'nonRepudiation',
  'keyEncipherment',
  'dataEncipherment',
  'keyAgreement',
  'keyCertSign',
  'cRLSign',
  'encipherOnly',
  'decipherOnly',
];

const EKU_SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const EKU_CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';

interface KeyMaterial {
  readonly type: UncheckedKeyType;
  readonly keys: webcrypto.CryptoKeyPair;
}

async function generateKeys(type: UncheckedKeyType): Promise<KeyMaterial> {
  const subtle = webcrypto.subtle;
  let keys: webcrypto.CryptoKeyPair;
  switch (type) {
    case 'ec-p256':
    case 'ec-p384':
    case 'ec-p521': {
      const namedCurve = type === 'ec-p256' ? 'P-256' : type === 'ec-p384' ? 'P-384' : 'P-521';
      keys = await subtle.generateKey({ name: 'ECDSA', namedCurve }, true, ['sign', 'verify']);
      break;
    }
    case 'rsa-2048':
    case 'rsa-1024':
    case 'rsa-pss-2048':
      keys = await subtle.generateKey(
        {
          name: type === 'rsa-pss-2048' ? 'RSA-PSS' : 'RSASSA-PKCS1-v1_5',
          modulusLength: type === 'rsa-1024' ? 1024 : 2048,
          publicExponent: new Uint8Array([1, 0, 1]),
          hash: 'SHA-256',
        },
        true,
        ['sign', 'verify'],
      );
      break;
    case 'ed25519':
      keys = (await subtle.generateKey({ name: 'Ed25519' }, true, [
        'sign',
        'verify',
      ])) as webcrypto.CryptoKeyPair;
      break;
  }
  return { type, keys };
}

/** The key and algorithm an issuer signs with, honouring a requested hash. */
async function signer(
  issuer: KeyMaterial,
  hash: TestSignatureHash | undefined,
): Promise<{
  signingKey: webcrypto.CryptoKey;
  signingAlgorithm: webcrypto.Algorithm | webcrypto.EcdsaParams;
}> {
  const key = issuer.keys.privateKey;
  switch (issuer.type) {
    case 'ec-p256':
      return {
        signingKey: key,
        signingAlgorithm: { name: 'ECDSA', hash: hash ?? 'SHA-256' } as webcrypto.EcdsaParams,
      };
    case 'ec-p384':
      return {
        signingKey: key,
        signingAlgorithm: { name: 'ECDSA', hash: hash ?? 'SHA-384' } as webcrypto.EcdsaParams,
      };
    case 'ec-p521':
      return {
        signingKey: key,
        signingAlgorithm: { name: 'ECDSA', hash: hash ?? 'SHA-512' } as webcrypto.EcdsaParams,
      };
    case 'ed25519':
      if (hash !== undefined) {
        throw new InvalidArgumentError('an Ed25519 issuer cannot sign with a chosen hash');
      }
      return { signingKey: key, signingAlgorithm: { name: 'Ed25519' } };
    case 'rsa-2048':
    case 'rsa-1024':
    case 'rsa-pss-2048': {
      const name = issuer.type === 'rsa-pss-2048' ? 'RSA-PSS' : 'RSASSA-PKCS1-v1_5';
      const chosen = hash ?? 'SHA-256';
      const saltLength = { 'SHA-1': 20, 'SHA-256': 32, 'SHA-384': 48, 'SHA-512': 64 }[chosen];
      let signingKey = key;
      if (chosen !== 'SHA-256') {
        // WebCrypto binds an RSA key to one hash, so re-import the key for another one.
        const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', key);
        signingKey = await webcrypto.subtle.importKey(
          'pkcs8',
          pkcs8,
          { name, hash: chosen },
          false,
          ['sign'],
        );
      }
      return {
        signingKey,
        signingAlgorithm: { name, hash: chosen, saltLength } as webcrypto.Algorithm,
      };
    }
  }
}

function serialNumber(): string {
  const bytes = randomBytes(16);
  bytes[0] = ((bytes[0] ?? 0) & 0x7f) | 0x01; // positive, and no leading zero byte to strip
  return bytes.toString('hex');
}

function keyUsageExtension(names: readonly KeyUsageName[], critical: boolean): x509.Extension {
  // DER BIT STRING (RFC 5280 §4.2.1.3): bit 0 is digitalSignature; trailing zero bits are dropped,
  // so an empty list gives an empty BIT STRING (the extension is present and asserts nothing).
  const positions = names.map((n) => KEY_USAGE_BITS.indexOf(n));
  const length = positions.length === 0 ? 0 : Math.max(...positions) + 1;
  const bytes = new Uint8Array(Math.ceil(length / 8));
  for (const p of positions) bytes[p >> 3] = (bytes[p >> 3] ?? 0) | (0x80 >> (p & 7));
  const bits = new BitString({ valueHex: bytes, unusedBits: bytes.length * 8 - length });
  return new x509.Extension('2.5.29.15', critical, bits.toBER());
}

function generalSubtrees(tag: number, values: readonly string[]): Sequence[] {
  return values.map(
    (v) =>
      new Sequence({
        value: [
          new Primitive({
            idBlock: { tagClass: 3, tagNumber: tag },
            valueHex: Buffer.from(v, 'latin1'),
          }),
        ],
      }),
  );
}

function nameConstraintsExtension(nc: TestNameConstraints): x509.Extension {
  const permitted = [
    ...generalSubtrees(1, nc.permittedEmails ?? []),
    ...generalSubtrees(2, nc.permittedDns ?? []),
    ...generalSubtrees(6, nc.permittedUris ?? []),
  ];
  const excluded = [
    ...generalSubtrees(2, nc.excludedDns ?? []),
    ...generalSubtrees(6, nc.excludedUris ?? []),
  ];
  const parts: Constructed[] = [];
  if (permitted.length > 0) {
    parts.push(new Constructed({ idBlock: { tagClass: 3, tagNumber: 0 }, value: permitted }));
  }
  if (excluded.length > 0) {
    parts.push(new Constructed({ idBlock: { tagClass: 3, tagNumber: 1 }, value: excluded }));
  }
  return new x509.Extension(
    '2.5.29.30',
    nc.critical ?? true,
    new Sequence({ value: parts }).toBER(),
  );
}

function basicConstraintsExtension(bc: TestBasicConstraints): x509.Extension {
  if (bc.pathLen === undefined) {
    return new x509.BasicConstraintsExtension(bc.ca, undefined, bc.critical ?? true);
  }
  // @peculiar/x509 drops pathLen for non-CA certificates; encode it directly so that negative
  // tests can make any combination.
  const seq = new Sequence({
    value: [
      ...(bc.ca ? [new Asn1Boolean({ value: true })] : []),
      new Integer({ value: bc.pathLen }),
    ],
  });
  return new x509.Extension('2.5.29.19', bc.critical ?? true, seq.toBER());
}

function rawExtensions(list: readonly RawExtension[] | undefined): x509.Extension[] {
  return (list ?? []).map((e) => new x509.Extension(e.oid, e.critical, e.value));
}

function toNode(cert: x509.X509Certificate): X509Certificate {
  return new X509Certificate(Buffer.from(cert.rawData));
}

function floorSeconds(d: Date): Date {
  return new Date(Math.floor(d.getTime() / 1000) * 1000);
}

function checkTtl(ttl: number, what: string): void {
  if (!Number.isFinite(ttl) || ttl <= 0) {
    throw new InvalidArgumentError(`${what} must be a positive number of seconds, got ${ttl}`);
  }
}

/**
 * A CA certificate made by a {@link TestCA}: the root, an intermediate of the signing chain, or
 * one made with {@link TestCA.createIntermediate}. Pass it as `issuer` to sign with it.
 *
 * @example
 * ```ts
 * const inter = await ca.createIntermediate({ basicConstraints: { ca: true, pathLen: 0 } });
 * const svid = await ca.issueX509Svid('spiffe://example.org/web', { issuer: inter });
 * ```
 */
export interface TestCaCertificate {
  /** The CA certificate. */
  readonly certificate: X509Certificate;
  /** Its private key. */
  readonly privateKey: KeyObject;
  /** This certificate followed by its issuers, up to but excluding the root (empty for a root). */
  readonly chain: readonly X509Certificate[];
  /** The root this certificate chains to. */
  readonly root: X509Certificate;
}

interface CaInternals {
  readonly material: KeyMaterial;
  readonly peculiar: x509.X509Certificate;
}

// Key material stays out of the public shape; only objects made here can sign.
const internals = new WeakMap<TestCaCertificate, CaInternals>();

function newCaCertificate(
  peculiar: x509.X509Certificate,
  material: KeyMaterial,
  chain: readonly X509Certificate[],
  root: X509Certificate | undefined,
): TestCaCertificate {
  const certificate = toNode(peculiar);
  const ca: TestCaCertificate = Object.freeze({
    certificate,
    privateKey: KeyObject.from(material.keys.privateKey),
    chain: Object.freeze(root === undefined ? [] : [certificate, ...chain]),
    root: root ?? certificate,
  });
  internals.set(ca, { material, peculiar });
  return ca;
}

function internalsOf(ca: TestCaCertificate): CaInternals {
  const found = internals.get(ca);
  if (found === undefined) {
    throw new InvalidArgumentError('the issuer must be a TestCaCertificate made by a TestCA');
  }
  return found;
}

async function rawSvid(
  certificates: X509Certificate[],
  material: KeyMaterial,
): Promise<RawX509Svid> {
  const privateKey = KeyObject.from(material.keys.privateKey);
  const der = new Uint8Array(await webcrypto.subtle.exportKey('pkcs8', material.keys.privateKey));
  return Object.freeze({
    certificates: Object.freeze(certificates),
    privateKey,
    certificatesPem: certificates.map((c) => c.toString()).join(''),
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    certificatesDer: new Uint8Array(Buffer.concat(certificates.map((c) => c.raw))),
    privateKeyDer: der,
  });
}

/**
 * An in-process X.509 certificate authority for one trust domain, for tests: it issues valid
 * X509-SVIDs, deliberately invalid ones, CA certificates with chosen properties, and rotates its
 * root. Certificates are made with `@peculiar/x509` and returned as Node `X509Certificate`s.
 *
 * Unlike the SDK's values a `TestCA` is mutable: {@link TestCA.rotateX509Authority} changes which
 * root signs new SVIDs. Keys are generated fresh for every CA and SVID.
 *
 * @example
 * ```ts
 * import { TestCA } from 'spiffe-sdk/testing';
 * import { verifyX509Svid } from 'spiffe-sdk/svid';
 *
 * const ca = await TestCA.create({ trustDomain: 'example.org', intermediates: 1 });
 * const svid = await ca.issueX509Svid('spiffe://example.org/web');
 * verifyX509Svid(svid.certificates, ca.x509Bundle()).id.toString(); // 'spiffe://example.org/web'
 * ```
 */
export class TestCA {
  /** The trust domain this CA issues for. */
  readonly trustDomain: TrustDomain;
  readonly #keyType: TestKeyType;
  readonly #ttlSeconds: number;
  readonly #intermediateCount: number;
  readonly #fixedNow: Date | undefined;
  readonly #rootSubject: string | undefined;
  #roots: TestCaCertificate[] = [];
  // Set by create() before the instance is handed out.
  #root!: TestCaCertificate;
  #signingCert!: TestCaCertificate;
  #generation = 0;

  private constructor(options: TestCAOptions) {
    this.trustDomain =
      typeof options.trustDomain === 'string'
        ? TrustDomain.parse(options.trustDomain)
        : options.trustDomain;
    this.#keyType = options.keyType ?? 'ec-p256';
    this.#ttlSeconds = options.ttlSeconds ?? 86_400;
    checkTtl(this.#ttlSeconds, 'ttlSeconds');
    this.#intermediateCount = options.intermediates ?? 0;
    if (
      !Number.isInteger(this.#intermediateCount) ||
      this.#intermediateCount < 0 ||
      this.#intermediateCount > 8
    ) {
      throw new InvalidArgumentError(
        `intermediates must be an integer from 0 to 8, got ${this.#intermediateCount}`,
      );
    }
    this.#fixedNow = options.now === undefined ? undefined : new Date(options.now.getTime());
    this.#rootSubject = options.rootSubject;
  }

  /**
   * Creates a CA with a fresh root (and `intermediates` intermediates below it).
   *
   * @example
   * ```ts
   * const ca = await TestCA.create({ trustDomain: 'example.org', keyType: 'ec-p384' });
   * ```
   */
  static async create(options: TestCAOptions): Promise<TestCA> {
    const ca = new TestCA(options);
    await ca.#newChain();
    return ca;
  }

  /**
   * The roots currently trusted: the current one, plus old ones during a rotation until
   * {@link TestCA.retireOldX509Authorities}.
   *
   * @example
   * ```ts
   * ca.x509Authorities.length; // 1
   * ```
   */
  get x509Authorities(): readonly X509Certificate[] {
    return Object.freeze(this.#roots.map((r) => r.certificate));
  }

  /**
   * The current signing chain below the root, leaf side first (empty without intermediates). These
   * are the certificates that follow the leaf in issued SVIDs.
   *
   * @example
   * ```ts
   * const ca = await TestCA.create({ trustDomain: 'example.org', intermediates: 2 });
   * ca.intermediates.length; // 2
   * ```
   */
  get intermediates(): readonly X509Certificate[] {
    return this.#signing().chain;
  }

  /**
   * The current root as a {@link TestCaCertificate}.
   *
   * @example
   * ```ts
   * const other = await ca.createIntermediate({ issuer: ca.rootCertificate });
   * ```
   */
  get rootCertificate(): TestCaCertificate {
    return this.#root;
  }

  /**
   * The certificate that signs new SVIDs: the lowest intermediate, or the root.
   *
   * @example
   * ```ts
   * ca.signingCertificate.certificate.ca; // true
   * ```
   */
  get signingCertificate(): TestCaCertificate {
    return this.#signing();
  }

  /**
   * The trust bundle: {@link TestCA.x509Authorities} as an `X509Bundle`.
   *
   * @example
   * ```ts
   * const bundle = ca.x509Bundle();
   * bundle.trustDomain.name; // 'example.org'
   * ```
   */
  x509Bundle(): X509Bundle {
    return X509Bundle.fromAuthorities(this.trustDomain, this.x509Authorities);
  }

  /**
   * Issues a valid X509-SVID for `id`, which must be in this trust domain and have a non-root
   * path: key usage `digitalSignature` (critical), CA false (critical), EKU serverAuth and
   * clientAuth, the URI SAN, SKI and AKI. Certificates: the leaf, then {@link TestCA.intermediates}.
   * Throws `InvalidArgumentError` for an ID that cannot make a valid SVID.
   *
   * @example
   * ```ts
   * const svid = await ca.issueX509Svid('spiffe://example.org/web', { ttlSeconds: 60, hint: 'internal' });
   * ```
   */
  async issueX509Svid(
    id: SpiffeId | string,
    options: IssueX509SvidOptions = {},
  ): Promise<X509Svid> {
    const spiffeId = typeof id === 'string' ? SpiffeId.parse(id) : id;
    if (!spiffeId.memberOf(this.trustDomain)) {
      throw new InvalidArgumentError(
        `cannot issue a valid X509-SVID for "${spiffeId.toString()}": it is not in trust domain "${this.trustDomain.name}" (use issueX509SvidUnchecked with signer for cross-domain tests)`,
      );
    }
    if (spiffeId.path === '') {
      throw new InvalidArgumentError(
        `cannot issue a valid X509-SVID for "${spiffeId.toString()}": a leaf SPIFFE ID needs a non-root path`,
      );
    }
    const issuer = options.issuer ?? this.#signing();
    const ttl = options.ttlSeconds ?? 3600;
    checkTtl(ttl, 'ttlSeconds');
    const notBefore = options.notBefore ?? this.#now();
    let notAfter = options.notAfter;
    if (notAfter === undefined) {
      const issuerEnds = [issuer.certificate, ...issuer.chain, issuer.root].map((c) =>
        new Date(c.validTo).getTime(),
      );
      notAfter = new Date(Math.min(notBefore.getTime() + ttl * 1000, ...issuerEnds));
    }
    if (notAfter.getTime() <= notBefore.getTime()) {
      throw new InvalidArgumentError('notAfter must be after notBefore');
    }
    const raw = await this.#issueLeaf({
      uris: [spiffeId.toString()],
      dnsNames: options.dnsNames ?? [],
      keyType: options.keyType ?? 'ec-p256',
      issuer,
      notBefore,
      notAfter,
    });
    return X509Svid.fromCertificates(
      raw.certificates,
      raw.privateKey,
      options.hint === undefined ? {} : { hint: options.hint },
    );
  }

  /**
   * Issues certificates and a key without checking any SVID rule, for negative tests: any URI SANs,
   * CA flags, key usages, validity, extensions, key types, signature hashes, issuers and chains.
   *
   * @example
   * ```ts
   * const forged = await caB.issueX509SvidUnchecked({ uris: ['spiffe://a.org/web'] });
   * const leafIsCa = await ca.issueX509SvidUnchecked({
   *   uris: ['spiffe://example.org/web'],
   *   basicConstraints: { ca: true },
   * });
   * ```
   */
  async issueX509SvidUnchecked(options: UncheckedX509SvidOptions = {}): Promise<RawX509Svid> {
    const issuer = options.issuer ?? (options.signer ?? this).#signing();
    const notBefore = options.notBefore ?? this.#now();
    const notAfter =
      options.notAfter ?? new Date(notBefore.getTime() + (options.ttlSeconds ?? 3600) * 1000);
    return this.#issueLeaf({
      uris: options.uris ?? [],
      dnsNames: options.dnsNames ?? [],
      keyType: options.keyType ?? 'ec-p256',
      issuer,
      notBefore,
      notAfter,
      ...(options.sanCritical === undefined ? {} : { sanCritical: options.sanCritical }),
      ...(options.subject === undefined ? {} : { subject: options.subject }),
      ...(options.basicConstraints === undefined
        ? {}
        : { basicConstraints: options.basicConstraints }),
      ...(options.keyUsage === undefined ? {} : { keyUsage: options.keyUsage }),
      ...(options.keyUsageCritical === undefined
        ? {}
        : { keyUsageCritical: options.keyUsageCritical }),
      ...(options.extKeyUsage === undefined ? {} : { extKeyUsage: options.extKeyUsage }),
      ...(options.extensions === undefined ? {} : { extensions: options.extensions }),
      ...(options.signatureHash === undefined ? {} : { signatureHash: options.signatureHash }),
      ...(options.chain === undefined ? {} : { chain: options.chain }),
    });
  }

  /**
   * Makes a CA certificate with chosen properties, signed by `issuer` (default: the current signing
   * certificate). Use it for pathLen, name constraints, non-CA "intermediates", expired
   * intermediates, and so on. Nothing is checked.
   *
   * @example
   * ```ts
   * const constrained = await ca.createIntermediate({ nameConstraints: { permittedUris: ['example.org'] } });
   * const notCa = await ca.createIntermediate({ basicConstraints: { ca: false } });
   * ```
   */
  async createIntermediate(options: CreateIntermediateOptions = {}): Promise<TestCaCertificate> {
    const issuer = options.issuer ?? (options.signer ?? this).#signing();
    const notBefore = options.notBefore ?? this.#now();
    const notAfter =
      options.notAfter ??
      new Date(notBefore.getTime() + (options.ttlSeconds ?? this.#ttlSeconds) * 1000);
    const material =
      (options.reuseKeyOf === undefined ? undefined : internalsOf(options.reuseKeyOf).material) ??
      (await generateKeys(options.keyType ?? this.#keyType));
    const extensions: x509.Extension[] = [];
    if (options.basicConstraints !== false) {
      extensions.push(basicConstraintsExtension(options.basicConstraints ?? { ca: true }));
    }
    if (options.keyUsage !== false) {
      extensions.push(keyUsageExtension(options.keyUsage ?? ['keyCertSign', 'cRLSign'], true));
    }
    const uri = options.uri ?? this.trustDomain.idString();
    if (uri !== false) {
      extensions.push(new x509.SubjectAlternativeNameExtension([{ type: 'url', value: uri }]));
    }
    if (options.nameConstraints !== undefined) {
      extensions.push(nameConstraintsExtension(options.nameConstraints));
    }
    extensions.push(...rawExtensions(options.extensions));
    const cert = await this.#sign({
      subject:
        options.subject ??
        `O=SPIFFE, CN=TestCA ${this.trustDomain.name} intermediate ${serialNumber().slice(0, 8)}`,
      issuer,
      material,
      notBefore,
      notAfter,
      extensions,
      signatureHash: options.signatureHash,
    });
    return newCaCertificate(cert, material, issuer.chain, issuer.root);
  }

  /**
   * Starts a root rotation: makes a new root (and new intermediates) that signs SVIDs from now on.
   * The old roots stay in {@link TestCA.x509Authorities} until
   * {@link TestCA.retireOldX509Authorities}, so SVIDs from both verify meanwhile.
   *
   * @example
   * ```ts
   * await ca.rotateX509Authority();
   * ca.x509Authorities.length; // 2
   * ca.retireOldX509Authorities();
   * ca.x509Authorities.length; // 1
   * ```
   */
  async rotateX509Authority(): Promise<void> {
    await this.#newChain();
  }

  /**
   * Ends a rotation: only the current root stays trusted.
   *
   * @example
   * ```ts
   * ca.retireOldX509Authorities();
   * ```
   */
  retireOldX509Authorities(): void {
    this.#roots = [this.rootCertificate];
  }

  #now(): Date {
    return floorSeconds(this.#fixedNow ?? new Date());
  }

  #signing(): TestCaCertificate {
    return this.#signingCert;
  }

  async #newChain(): Promise<void> {
    this.#generation++;
    const notBefore = this.#now();
    const notAfter = new Date(notBefore.getTime() + this.#ttlSeconds * 1000);
    const material = await generateKeys(this.#keyType);
    const subject =
      this.#rootSubject ??
      `O=SPIFFE, CN=TestCA ${this.trustDomain.name} root ${this.#generation} ${serialNumber().slice(0, 8)}`;
    const rootCert = await this.#sign({
      subject,
      issuer: undefined,
      material,
      notBefore,
      notAfter,
      extensions: [
        new x509.BasicConstraintsExtension(true, undefined, true),
        keyUsageExtension(['keyCertSign', 'cRLSign'], true),
        new x509.SubjectAlternativeNameExtension([
          { type: 'url', value: this.trustDomain.idString() },
        ]),
      ],
      signatureHash: undefined,
    });
    const root = newCaCertificate(rootCert, material, [], undefined);
    let signing = root;
    for (let i = 0; i < this.#intermediateCount; i++) {
      signing = await this.createIntermediate({
        issuer: signing,
        subject: `O=SPIFFE, CN=TestCA ${this.trustDomain.name} intermediate ${this.#generation}.${i + 1}`,
        notBefore,
        notAfter,
      });
    }
    this.#root = root;
    this.#signingCert = signing;
    this.#roots.push(root);
  }

  async #sign(params: {
    subject: string;
    issuer: TestCaCertificate | undefined;
    material: KeyMaterial;
    notBefore: Date;
    notAfter: Date;
    extensions: x509.Extension[];
    signatureHash: TestSignatureHash | undefined;
  }): Promise<x509.X509Certificate> {
    const issuer = params.issuer === undefined ? undefined : internalsOf(params.issuer);
    const issuerMaterial = issuer?.material ?? params.material;
    const { signingKey, signingAlgorithm } = await signer(issuerMaterial, params.signatureHash);
    const extensions = [
      ...params.extensions,
      await x509.SubjectKeyIdentifierExtension.create(params.material.keys.publicKey),
    ];
    if (issuer !== undefined) {
      extensions.push(
        await x509.AuthorityKeyIdentifierExtension.create(issuer.material.keys.publicKey),
      );
    }
    return x509.X509CertificateGenerator.create({
      serialNumber: serialNumber(),
      subject: params.subject,
      issuer: issuer === undefined ? params.subject : issuer.peculiar.subject,
      notBefore: params.notBefore,
      notAfter: params.notAfter,
      publicKey: params.material.keys.publicKey,
      signingKey,
      signingAlgorithm,
      extensions,
    });
  }

  async #issueLeaf(params: {
    uris: readonly string[];
    dnsNames: readonly string[];
    keyType: UncheckedKeyType;
    issuer: TestCaCertificate;
    notBefore: Date;
    notAfter: Date;
    sanCritical?: boolean;
    subject?: string;
    basicConstraints?: false | TestBasicConstraints;
    keyUsage?: false | readonly KeyUsageName[];
    keyUsageCritical?: boolean;
    extKeyUsage?: false | readonly string[];
    extensions?: readonly RawExtension[];
    signatureHash?: TestSignatureHash;
    chain?: readonly X509Certificate[];
  }): Promise<RawX509Svid> {
    const material = await generateKeys(params.keyType);
    const extensions: x509.Extension[] = [];
    if (params.basicConstraints !== false) {
      extensions.push(basicConstraintsExtension(params.basicConstraints ?? { ca: false }));
    }
    if (params.keyUsage !== false) {
      extensions.push(
        keyUsageExtension(params.keyUsage ?? ['digitalSignature'], params.keyUsageCritical ?? true),
      );
    }
    if (params.extKeyUsage !== false) {
      extensions.push(
        new x509.ExtendedKeyUsageExtension([
          ...(params.extKeyUsage ?? [EKU_SERVER_AUTH, EKU_CLIENT_AUTH]),
        ]),
      );
    }
    const names = [
      ...params.uris.map((value) => ({ type: 'url' as const, value })),
      ...params.dnsNames.map((value) => ({ type: 'dns' as const, value })),
    ];
    if (names.length > 0) {
      extensions.push(new x509.SubjectAlternativeNameExtension(names, params.sanCritical ?? false));
    }
    extensions.push(...rawExtensions(params.extensions));
    const leaf = await this.#sign({
      subject: params.subject ?? 'O=SPIFFE',
      issuer: params.issuer,
      material,
      notBefore: params.notBefore,
      notAfter: params.notAfter,
      extensions,
      signatureHash: params.signatureHash,
    });
    const chain = params.chain ?? params.issuer.chain;
    return rawSvid([toNode(leaf), ...chain], material);
  }
}
