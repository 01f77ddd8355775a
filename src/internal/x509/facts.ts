/**
 * The facts about one certificate that SVID parsing and chain verification need, read once from the
 * certificate's DER and cached per `X509Certificate` object.
 *
 * Everything is read from the DER (with ./asn1.ts), never from Node's text renderings: Node's
 * `subjectAltName` string joins names with `", "` without escaping, so a DNS name such as
 * `x, URI:spiffe://a.org/admin` would read as a second (URI) name (SAN injection), and Node's
 * `X509Certificate.keyUsage` is the *extended* key usage list, not the keyUsage bits.
 */
import type { X509Certificate } from 'node:crypto';
import { SpiffeId } from '../../spiffeid/index.js';
import {
  Asn1Error,
  type Asn1Node,
  bitsOf,
  bitStringBytesOf,
  booleanOf,
  constructedItems,
  decodeOne,
  integerBytesOf,
  isBoolean,
  isContextTag,
  octetsOf,
  oidOf,
  primitiveBytesOf,
  rawOf,
  sequenceItems,
  smallIntegerOf,
  TAG_CLASS_CONTEXT,
  timeOf,
} from './asn1.js';

/** Extension OIDs. */
export const OID = Object.freeze({
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  nameConstraints: '2.5.29.30',
  certificatePolicies: '2.5.29.32',
  authorityKeyIdentifier: '2.5.29.35',
  extKeyUsage: '2.5.29.37',
});

/**
 * Extensions whose criticality the verifier honours. Key usage, basic constraints, SANs and name
 * constraints are enforced; EKU is accepted as go-spiffe does (any purpose); key identifiers only
 * help path building; certificate policies only narrow the policy set, and without policy
 * constraints (which are NOT handled, so a critical one is rejected) RFC 5280 path validation with
 * the any-policy initial set accepts them.
 */
const HANDLED_CRITICAL = new Set<string>([
  OID.subjectKeyIdentifier,
  OID.keyUsage,
  OID.subjectAltName,
  OID.basicConstraints,
  OID.nameConstraints,
  OID.certificatePolicies,
  OID.authorityKeyIdentifier,
  OID.extKeyUsage,
]);

/** The keyUsage bits (RFC 5280 §4.2.1.3). */
export interface KeyUsageBits {
  readonly digitalSignature: boolean;
  readonly contentCommitment: boolean;
  readonly keyEncipherment: boolean;
  readonly dataEncipherment: boolean;
  readonly keyAgreement: boolean;
  readonly keyCertSign: boolean;
  readonly cRLSign: boolean;
  readonly encipherOnly: boolean;
  readonly decipherOnly: boolean;
}

/** The basicConstraints extension (RFC 5280 §4.2.1.9). */
export interface BasicConstraintsFacts {
  readonly ca: boolean;
  readonly pathLen: number | undefined;
}

/** The name constraints this SDK enforces, plus the forms it does not check. */
export interface NameConstraintsFacts {
  readonly critical: boolean;
  readonly permittedDns: readonly string[];
  readonly excludedDns: readonly string[];
  readonly permittedUri: readonly string[];
  readonly excludedUri: readonly string[];
  /** GeneralName forms present in the extension that the SDK does not check (e.g. `iPAddress`). */
  readonly uncheckedForms: readonly string[];
}

/** What the SDK knows about one certificate. Immutable. */
export interface CertificateFacts {
  /**
   * Why the certificate's structure could not be read as the SDK needs it, or `undefined`. When
   * set, the other fields hold safe empty defaults and every check must reject the certificate.
   */
  readonly malformed: string | undefined;
  readonly uriSans: readonly string[];
  readonly dnsSans: readonly string[];
  /** `undefined` when the certificate has no keyUsage extension. */
  readonly keyUsage: KeyUsageBits | undefined;
  /** `undefined` when the certificate has no basicConstraints extension. */
  readonly basicConstraints: BasicConstraintsFacts | undefined;
  readonly nameConstraints: NameConstraintsFacts | undefined;
  readonly criticalExtensions: readonly string[];
  /** Critical extensions the SDK does not process; any certificate with one is rejected. */
  readonly unhandledCriticalExtensions: readonly string[];
  /** The outer signature algorithm OID. */
  readonly signatureAlgorithm: string;
  /** Why the signature algorithm is not accepted (weak or unknown), or `undefined`. */
  readonly signatureAlgorithmProblem: string | undefined;
  readonly notBefore: number;
  readonly notAfter: number;
  /** Subject and issuer names as DER, hex (for cheap issuer candidate lookups). */
  readonly subjectHex: string;
  readonly issuerHex: string;
  readonly selfIssued: boolean;
  /** The subjectPublicKeyInfo DER, hex. */
  readonly spkiHex: string;
  /** A short description of the key, e.g. `EC P-256`, `RSA 2048`, `Ed25519`. */
  readonly keyDescription: string;
  /** Why the public key is not acceptable (unsupported type, RSA < 2048 bits), or `undefined`. */
  readonly keyProblem: string | undefined;
  /** The SPIFFE ID when there is exactly one URI SAN and it is a valid SPIFFE ID. */
  readonly spiffeId: SpiffeId | undefined;
  /** Why there is no SPIFFE ID (`spiffeId` is `undefined`). */
  readonly spiffeIdProblem: string | undefined;
}

const KEY_USAGE_NAMES = [
  'digitalSignature',
  'contentCommitment',
  'keyEncipherment',
  'dataEncipherment',
  'keyAgreement',
  'keyCertSign',
  'cRLSign',
  'encipherOnly',
  'decipherOnly',
] as const;

const GENERAL_NAME_FORMS = [
  'otherName',
  'rfc822Name',
  'dNSName',
  'x400Address',
  'directoryName',
  'ediPartyName',
  'uniformResourceIdentifier',
  'iPAddress',
  'registeredID',
] as const;

function formName(tag: number): string {
  return GENERAL_NAME_FORMS[tag] ?? `[${tag}]`;
}

const SHA2 = new Map<string, string>([
  ['2.16.840.1.101.3.4.2.1', 'SHA-256'],
  ['2.16.840.1.101.3.4.2.2', 'SHA-384'],
  ['2.16.840.1.101.3.4.2.3', 'SHA-512'],
]);

const ACCEPTED_SIGNATURES = new Map<string, string>([
  ['1.2.840.113549.1.1.11', 'sha256WithRSAEncryption'],
  ['1.2.840.113549.1.1.12', 'sha384WithRSAEncryption'],
  ['1.2.840.113549.1.1.13', 'sha512WithRSAEncryption'],
  ['1.2.840.10045.4.3.2', 'ecdsa-with-SHA256'],
  ['1.2.840.10045.4.3.3', 'ecdsa-with-SHA384'],
  ['1.2.840.10045.4.3.4', 'ecdsa-with-SHA512'],
  ['1.3.101.112', 'Ed25519'],
  ['1.3.101.113', 'Ed448'],
]);

const WEAK_SIGNATURES = new Map<string, string>([
  ['1.2.840.113549.1.1.2', 'md2WithRSAEncryption'],
  ['1.2.840.113549.1.1.4', 'md5WithRSAEncryption'],
  ['1.2.840.113549.1.1.5', 'sha1WithRSAEncryption'],
  ['1.2.840.10045.4.1', 'ecdsa-with-SHA1'],
  ['1.2.840.10040.4.3', 'dsa-with-SHA1'],
  ['1.3.14.3.2.29', 'sha1WithRSASignature'],
]);

const RSASSA_PSS = '1.2.840.113549.1.1.10';
const MGF1 = '1.2.840.113549.1.1.8';

/** Checks RSASSA-PSS parameters: SHA-1 is the default hash, so the hash must be given and be SHA-2. */
function pssProblem(params: Asn1Node | undefined): string | undefined {
  if (params === undefined) return 'RSASSA-PSS without parameters (SHA-1 defaults)';
  let hash: string | undefined;
  let mgfHash: string | undefined;
  for (const item of sequenceItems(params, 'RSASSA-PSS parameters')) {
    if (isContextTag(item, 0)) {
      const alg = sequenceItems(constructedItems(item, 'PSS hash')[0], 'PSS hash');
      hash = oidOf(alg[0], 'PSS hash');
    } else if (isContextTag(item, 1)) {
      const mgf = sequenceItems(constructedItems(item, 'PSS MGF')[0], 'PSS MGF');
      if (oidOf(mgf[0], 'PSS MGF') !== MGF1) return 'RSASSA-PSS with an unknown mask generation';
      mgfHash = oidOf(sequenceItems(mgf[1], 'PSS MGF hash')[0], 'PSS MGF hash');
    }
  }
  if (hash === undefined || !SHA2.has(hash)) return 'RSASSA-PSS with a SHA-1 or unknown hash';
  if (mgfHash === undefined || !SHA2.has(mgfHash))
    return 'RSASSA-PSS with a SHA-1 or unknown MGF1 hash';
  return undefined;
}

function signatureProblem(oid: string, params: Asn1Node | undefined): string | undefined {
  if (ACCEPTED_SIGNATURES.has(oid)) return undefined;
  if (oid === RSASSA_PSS) return pssProblem(params);
  const weak = WEAK_SIGNATURES.get(oid);
  if (weak !== undefined) return `weak signature algorithm ${weak}`;
  return `unsupported signature algorithm ${oid}`;
}

function ascii(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

function parseKeyUsage(value: Uint8Array): KeyUsageBits {
  const bits = bitsOf(decodeOne(value, 'keyUsage'), 'keyUsage');
  const out: Record<string, boolean> = {};
  KEY_USAGE_NAMES.forEach((name, i) => (out[name] = bits[i] === true));
  return Object.freeze(out) as unknown as KeyUsageBits;
}

function parseBasicConstraints(value: Uint8Array): BasicConstraintsFacts {
  const items = sequenceItems(decodeOne(value, 'basicConstraints'), 'basicConstraints');
  let ca = false;
  let pathLen: number | undefined;
  let i = 0;
  const first = items[i];
  if (isBoolean(first)) {
    ca = booleanOf(first, 'basicConstraints cA');
    i++;
  }
  const second = items[i];
  if (second !== undefined) {
    pathLen = smallIntegerOf(second, 'basicConstraints pathLenConstraint');
    i++;
  }
  if (i !== items.length) throw new Asn1Error('basicConstraints: unexpected fields');
  return Object.freeze({ ca, pathLen });
}

function parseSubjectAltName(value: Uint8Array): { uris: string[]; dns: string[] } {
  const uris: string[] = [];
  const dns: string[] = [];
  for (const name of sequenceItems(decodeOne(value, 'subjectAltName'), 'subjectAltName')) {
    if (name.tagClass !== TAG_CLASS_CONTEXT) {
      throw new Asn1Error('subjectAltName: a GeneralName without a context tag');
    }
    if (name.tagNumber === 6) uris.push(ascii(primitiveBytesOf(name, 'URI SAN')));
    else if (name.tagNumber === 2) dns.push(ascii(primitiveBytesOf(name, 'DNS SAN')));
  }
  return { uris, dns };
}

function parseNameConstraints(value: Uint8Array, critical: boolean): NameConstraintsFacts {
  const permittedDns: string[] = [];
  const excludedDns: string[] = [];
  const permittedUri: string[] = [];
  const excludedUri: string[] = [];
  const unchecked = new Set<string>();
  for (const part of sequenceItems(decodeOne(value, 'nameConstraints'), 'nameConstraints')) {
    const permitted = isContextTag(part, 0);
    if (!permitted && !isContextTag(part, 1)) {
      throw new Asn1Error('nameConstraints: unexpected field');
    }
    for (const subtree of constructedItems(part, 'nameConstraints subtrees')) {
      const [base, ...distances] = sequenceItems(subtree, 'GeneralSubtree');
      // RFC 5280 §4.2.1.10: minimum MUST be zero and maximum MUST be absent. DER omits the
      // DEFAULT 0, so any distance field is a form this SDK does not check.
      if (base?.tagClass !== TAG_CLASS_CONTEXT) {
        throw new Asn1Error('nameConstraints: malformed GeneralSubtree');
      }
      const tag = base.tagNumber;
      if (distances.length > 0) {
        unchecked.add(`${formName(tag)} with minimum/maximum`);
        continue;
      }
      if (tag === 2) {
        (permitted ? permittedDns : excludedDns).push(ascii(primitiveBytesOf(base, 'dNSName')));
      } else if (tag === 6) {
        (permitted ? permittedUri : excludedUri).push(ascii(primitiveBytesOf(base, 'URI')));
      } else {
        unchecked.add(formName(tag));
      }
    }
  }
  return Object.freeze({
    critical,
    permittedDns: Object.freeze(permittedDns),
    excludedDns: Object.freeze(excludedDns),
    permittedUri: Object.freeze(permittedUri),
    excludedUri: Object.freeze(excludedUri),
    uncheckedForms: Object.freeze([...unchecked]),
  });
}

const EC_CURVES = new Map<string, string>([
  ['1.2.840.10045.3.1.7', 'P-256'],
  ['1.3.132.0.34', 'P-384'],
  ['1.3.132.0.35', 'P-521'],
]);

/**
 * Describes the subjectPublicKeyInfo from DER. (Node's `KeyObject.asymmetricKeyDetails` would do,
 * but it costs about 40 µs per call, more than this whole file's parse.)
 */
function describeKey(spki: Asn1Node): { description: string; problem: string | undefined } {
  const [algorithm, key] = sequenceItems(spki, 'subjectPublicKeyInfo');
  const [algOid, params] = sequenceItems(algorithm, 'subjectPublicKeyInfo algorithm');
  const oid = oidOf(algOid, 'subjectPublicKeyInfo algorithm');
  if (oid === '1.2.840.113549.1.1.1' || oid === RSASSA_PSS) {
    const rsaKey = decodeOne(bitStringBytesOf(key, 'RSA public key'), 'RSA public key');
    const modulus = integerBytesOf(sequenceItems(rsaKey, 'RSA public key')[0], 'RSA modulus');
    let first = 0;
    while (first < modulus.length - 1 && modulus[first] === 0) first++;
    const lead = modulus[first] ?? 0;
    const bits =
      (modulus.length - first - 1) * 8 + (lead === 0 ? 0 : Math.floor(Math.log2(lead)) + 1);
    return {
      description: `RSA ${bits}`,
      problem: bits < 2048 ? `RSA key of ${bits} bits (at least 2048 are required)` : undefined,
    };
  }
  if (oid === '1.2.840.10045.2.1') {
    const curveOid = oidOf(params, 'EC curve');
    const curve = EC_CURVES.get(curveOid);
    return curve === undefined
      ? { description: `EC ${curveOid}`, problem: `unsupported EC curve ${curveOid}` }
      : { description: `EC ${curve}`, problem: undefined };
  }
  if (oid === '1.3.101.112') return { description: 'Ed25519', problem: undefined };
  if (oid === '1.3.101.113') return { description: 'Ed448', problem: undefined };
  return { description: oid, problem: `unsupported key type ${oid}` };
}

function idFromUris(uris: readonly string[]): {
  id: SpiffeId | undefined;
  problem: string | undefined;
} {
  const [uri, ...others] = uris;
  if (uri === undefined) return { id: undefined, problem: 'certificate contains no URI SAN' };
  if (others.length > 0) {
    return { id: undefined, problem: 'certificate contains more than one URI SAN' };
  }
  try {
    return { id: SpiffeId.parse(uri), problem: undefined };
  } catch (err) {
    return { id: undefined, problem: (err as Error).message };
  }
}

function extract(cert: X509Certificate): CertificateFacts {
  const root = sequenceItems(decodeOne(cert.raw, 'certificate'), 'certificate');
  if (root.length !== 3) throw new Asn1Error('certificate: expected 3 fields');
  const tbs = sequenceItems(root[0], 'tbsCertificate');
  const outerAlg = sequenceItems(root[1], 'signatureAlgorithm');
  const signatureAlgorithm = oidOf(outerAlg[0], 'signatureAlgorithm');

  let i = 0;
  if (isContextTag(tbs[0], 0)) i++; // version
  i++; // serialNumber
  const innerAlg = tbs[i++];
  const issuer = tbs[i++];
  const validity = tbs[i++];
  const subject = tbs[i++];
  const spki = tbs[i++];
  if (
    innerAlg === undefined ||
    issuer === undefined ||
    validity === undefined ||
    subject === undefined ||
    spki === undefined
  ) {
    throw new Asn1Error('tbsCertificate: missing fields');
  }
  // RFC 5280 §4.1.1.2: the two AlgorithmIdentifiers MUST be identical.
  if (
    !Buffer.from(rawOf(innerAlg, 'tbs signature')).equals(
      Buffer.from(rawOf(root[1], 'signatureAlgorithm')),
    )
  ) {
    throw new Asn1Error('the signature algorithm in tbsCertificate differs from the outer one');
  }
  const [nb, na] = sequenceItems(validity, 'validity');
  const notBefore = timeOf(nb, 'notBefore');
  const notAfter = timeOf(na, 'notAfter');

  let uriSans: string[] = [];
  let dnsSans: string[] = [];
  let keyUsage: KeyUsageBits | undefined;
  let basicConstraints: BasicConstraintsFacts | undefined;
  let nameConstraints: NameConstraintsFacts | undefined;
  const critical: string[] = [];
  const seen = new Set<string>();
  for (const field of tbs.slice(i)) {
    if (!isContextTag(field, 3)) continue; // issuerUniqueID / subjectUniqueID
    const [list] = constructedItems(field, 'extensions');
    for (const ext of sequenceItems(list, 'extensions')) {
      const parts = sequenceItems(ext, 'extension');
      const oid = oidOf(parts[0], 'extension id');
      if (seen.has(oid)) throw new Asn1Error(`extension ${oid} appears more than once`);
      seen.add(oid);
      let isCritical = false;
      let valueNode = parts[1];
      if (parts.length === 3) {
        isCritical = booleanOf(parts[1], `extension ${oid} critical`);
        valueNode = parts[2];
      } else if (parts.length !== 2) {
        throw new Asn1Error(`extension ${oid}: unexpected fields`);
      }
      const value = octetsOf(valueNode, `extension ${oid}`);
      if (isCritical) critical.push(oid);
      switch (oid) {
        case OID.keyUsage:
          keyUsage = parseKeyUsage(value);
          break;
        case OID.basicConstraints:
          basicConstraints = parseBasicConstraints(value);
          break;
        case OID.subjectAltName: {
          const san = parseSubjectAltName(value);
          uriSans = san.uris;
          dnsSans = san.dns;
          break;
        }
        case OID.nameConstraints:
          nameConstraints = parseNameConstraints(value, isCritical);
          break;
        default:
          break;
      }
    }
  }

  const subjectHex = hex(rawOf(subject, 'subject'));
  const issuerHex = hex(rawOf(issuer, 'issuer'));
  const key = describeKey(spki);
  const id = idFromUris(uriSans);
  return Object.freeze({
    malformed: undefined,
    uriSans: Object.freeze(uriSans),
    dnsSans: Object.freeze(dnsSans),
    keyUsage,
    basicConstraints,
    nameConstraints,
    criticalExtensions: Object.freeze(critical),
    unhandledCriticalExtensions: Object.freeze(critical.filter((o) => !HANDLED_CRITICAL.has(o))),
    signatureAlgorithm,
    signatureAlgorithmProblem: signatureProblem(signatureAlgorithm, outerAlg[1]),
    notBefore,
    notAfter,
    subjectHex,
    issuerHex,
    selfIssued: subjectHex === issuerHex,
    spkiHex: hex(rawOf(spki, 'subjectPublicKeyInfo')),
    keyDescription: key.description,
    keyProblem: key.problem,
    spiffeId: id.id,
    spiffeIdProblem: id.problem,
  });
}

function malformedFacts(reason: string): CertificateFacts {
  return Object.freeze({
    malformed: reason,
    uriSans: Object.freeze([]),
    dnsSans: Object.freeze([]),
    keyUsage: undefined,
    basicConstraints: undefined,
    nameConstraints: undefined,
    criticalExtensions: Object.freeze([]),
    unhandledCriticalExtensions: Object.freeze([]),
    signatureAlgorithm: '',
    signatureAlgorithmProblem: 'unreadable signature algorithm',
    notBefore: Number.POSITIVE_INFINITY,
    notAfter: Number.NEGATIVE_INFINITY,
    subjectHex: '',
    issuerHex: '',
    selfIssued: false,
    spkiHex: '',
    keyDescription: 'unknown',
    keyProblem: 'unreadable certificate',
    spiffeId: undefined,
    spiffeIdProblem: `malformed certificate: ${reason}`,
  });
}

const cache = new WeakMap<X509Certificate, CertificateFacts>();

/**
 * The facts of `cert`, computed on first use and cached for the life of the `X509Certificate`
 * object. Never throws: a certificate whose structure cannot be read gets `malformed` set.
 */
export function certificateFacts(cert: X509Certificate): CertificateFacts {
  let facts = cache.get(cert);
  if (facts === undefined) {
    try {
      facts = extract(cert);
    } catch (err) {
      facts = malformedFacts(err instanceof Asn1Error ? err.message : 'unreadable DER');
    }
    cache.set(cert, facts);
  }
  return facts;
}

/** The names of the keyUsage bits that are set, for messages. */
export function keyUsageNames(ku: KeyUsageBits | undefined): string[] {
  if (ku === undefined) return [];
  return KEY_USAGE_NAMES.filter((n) => ku[n]);
}
