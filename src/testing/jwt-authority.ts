import {
  createHmac,
  generateKeyPair,
  generateKeyPairSync,
  randomBytes,
  sign,
  type KeyObject,
} from 'node:crypto';
import { promisify } from 'node:util';
import { base64url, SignJWT } from 'jose';
import { forgeJwsSignature } from './forge-jws.js';
import { JwtBundle } from '../bundle/jwt-bundle.js';
import type { JwtBundleSource } from '../bundle/source.js';
import { InvalidArgumentError } from '../errors.js';
import { SpiffeId, TrustDomain } from '../spiffeid/index.js';
import {
  isJwtSvidAlgorithm,
  keyGenerationParams,
  type JwtSvidAlgorithm,
} from '../svid/jwt-svid-algorithms.js';
import type { JwtSvid } from '../svid/jwt-svid.js';
import { parseInsecureJwtSvid } from '../svid/parse-jwt-svid.js';

const generateKeyPairAsync = promisify(generateKeyPair);

/**
 * Options of {@link JwtAuthority.create}.
 *
 * @example
 * ```ts
 * const options: JwtAuthorityOptions = { trustDomain: 'example.org', alg: 'RS256' };
 * ```
 */
export interface JwtAuthorityOptions {
  /** The trust domain whose JWT-SVIDs this authority signs. */
  readonly trustDomain: TrustDomain | string;
  /** The signing algorithm; the key type follows from it (RSA keys are 2048 bits). Default ES256. */
  readonly alg?: JwtSvidAlgorithm;
  /** The key ID of the first key. Default: 32 random base64url characters. */
  readonly kid?: string;
}

/**
 * A NumericDate: a `Date`, or seconds since the epoch.
 *
 * @example
 * ```ts
 * const at: NumericDateInput = new Date('2030-01-01T00:00:00Z'); // or 1893456000
 * ```
 */
export type NumericDateInput = Date | number;

/**
 * What to put in a token minted by {@link JwtAuthority.mint}.
 *
 * @example
 * ```ts
 * const options: MintJwtSvidOptions = { subject: 'spiffe://example.org/web', audience: 'reports' };
 * ```
 */
export interface MintJwtSvidOptions {
  /** The `sub` claim: a SPIFFE ID of the authority's trust domain. */
  readonly subject: SpiffeId | string;
  /** The `aud` claim: one value (encoded as a string) or several (an array). Non-empty. */
  readonly audience: string | readonly string[];
  /** Lifetime from `issuedAt`, in seconds. Default 3600. Ignored when `expiresAt` is given. */
  readonly ttlSeconds?: number;
  /** The `exp` claim. Default `issuedAt + ttlSeconds`. */
  readonly expiresAt?: NumericDateInput;
  /** The `nbf` claim. Default: absent. */
  readonly notBefore?: NumericDateInput;
  /** The `iat` claim. Default: now (whole seconds). */
  readonly issuedAt?: NumericDateInput;
  /** More claims (`iss`, `jti`, private claims). Must not repeat `sub`, `aud`, `exp`, `nbf`, `iat`. */
  readonly extraClaims?: Readonly<Record<string, unknown>>;
  /** Sign with this (current or not yet retired) key instead of the current one. */
  readonly kid?: string;
  /** Leave the optional `kid` header out (JWT-SVID §2.2 allows it). Default false. */
  readonly omitKid?: boolean;
  /** The `typ` header: `'JWT'` (default), `'JOSE'`, or `false` to leave it out. */
  readonly typ?: 'JWT' | 'JOSE' | false;
}

/**
 * How {@link JwtAuthority.mintUnchecked} signs: with the authority's key (default), or as a
 * classic attack: `'none'` (no signature), `'hs256-public-key'` (HMAC-SHA256 keyed with the
 * authority's public key in SPKI PEM, the algorithm-confusion attack), `'eddsa'` (a fresh Ed25519
 * key), or any private key you give with the JWS `alg` to use (`RS*`, `PS*`, `ES*`, `EdDSA`).
 *
 * @example
 * ```ts
 * const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
 * // RS256 under the kid of the authority's EC key: an alg/key mismatch.
 * await authority.mintUnchecked({ signer: { key: rsa.privateKey, alg: 'RS256' } });
 * ```
 */
export type UncheckedSigner =
  | 'authority'
  | 'none'
  | 'hs256-public-key'
  | 'eddsa'
  | {
      /** The private key (or, for `HS*`, the secret key) to sign with. */
      readonly key: KeyObject;
      /** The JWS `alg` to write and to sign with. */
      readonly alg: string;
    };

/**
 * Everything {@link JwtAuthority.mintUnchecked} can get wrong on purpose. The claims start like
 * {@link JwtAuthority.mint}'s (any value allowed, nothing validated), then `claims` and `header`
 * are merged in: a member set to `undefined` is removed.
 *
 * @example
 * ```ts
 * const options: MintUncheckedOptions = { signer: 'none', claims: { exp: undefined } };
 * ```
 */
export interface MintUncheckedOptions {
  /**
   * The `sub` claim, any JSON value (`null` included; `undefined` leaves it out). Default, when
   * the member is absent: `spiffe://<trust domain>/workload`.
   */
  readonly subject?: unknown;
  /** The `aud` claim, any JSON value. Default, when the member is absent: `'test-audience'`. */
  readonly audience?: unknown;
  /** As in {@link MintJwtSvidOptions.ttlSeconds}. */
  readonly ttlSeconds?: number;
  /** As in {@link MintJwtSvidOptions.expiresAt}. */
  readonly expiresAt?: NumericDateInput;
  /** As in {@link MintJwtSvidOptions.notBefore}. */
  readonly notBefore?: NumericDateInput;
  /** As in {@link MintJwtSvidOptions.issuedAt}. */
  readonly issuedAt?: NumericDateInput;
  /** Extra claims (any names, registered ones included), under `claims`' overrides. */
  readonly extraClaims?: Readonly<Record<string, unknown>>;
  /** Which authority key signs (and the default `kid` header). Default: the current key. */
  readonly kid?: string;
  /** Claim overrides, applied last; `undefined` removes a claim. */
  readonly claims?: Readonly<Record<string, unknown>>;
  /** Header overrides over `{ alg, kid, typ: 'JWT' }`; `undefined` removes a member. */
  readonly header?: Readonly<Record<string, unknown>>;
  /** The decoded header text, used verbatim instead of the JSON of the header (e.g. not JSON). */
  readonly rawHeader?: string;
  /** The decoded payload text, used verbatim instead of the JSON of the claims. */
  readonly rawPayload?: string;
  /** How to sign. Default `'authority'`. */
  readonly signer?: UncheckedSigner;
  /** Flip one bit of the signature after signing. */
  readonly tamperSignature?: boolean;
  /** Claims merged into the payload AFTER signing (the signature no longer covers them). */
  readonly tamperClaims?: Readonly<Record<string, unknown>>;
  /**
   * `'compact'` (default), or the JWS JSON serializations (RFC 7515 §7.2): `'flattened-json'`
   * or `'general-json'`.
   */
  readonly serialization?: 'compact' | 'flattened-json' | 'general-json';
  /** Compact only: cut the token to this many dot-separated parts, or pad it with extra ones. */
  readonly parts?: number;
}

interface SigningKey {
  readonly kid: string;
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
}

const REGISTERED = ['sub', 'aud', 'exp', 'nbf', 'iat'] as const;
const DEFAULT_TTL_SECONDS = 3600;

/**
 * The JWT half of the SDK's reference issuer, for tests: it mints JWT-SVIDs for one trust domain
 * and serves its JWT bundle. {@link JwtAuthority.mint} makes standard-conforming tokens with
 * `jose`; {@link JwtAuthority.mintUnchecked} makes deliberately broken ones (alg `none`, the HS256
 * confusion attack, tampered signatures, missing claims, JSON serialization, …) to prove that a
 * validator rejects them. Keys rotate with {@link JwtAuthority.rotate} and
 * {@link JwtAuthority.retireOldKeys}.
 *
 * It is also a {@link JwtBundleSource} for its own trust domain that always returns the current
 * bundle, so validators built on it see rotations.
 *
 * @example
 * ```ts
 * import { JwtAuthority } from 'spiffe-sdk/testing';
 * import { parseAndValidateJwtSvid } from 'spiffe-sdk/svid';
 *
 * const authority = await JwtAuthority.create({ trustDomain: 'example.org' });
 * const token = await authority.mint({ subject: 'spiffe://example.org/web', audience: 'reports' });
 * const svid = await parseAndValidateJwtSvid(token, authority.jwtBundle(), 'reports');
 * svid.id.toString(); // 'spiffe://example.org/web'
 * ```
 */
export class JwtAuthority implements JwtBundleSource {
  /** The trust domain this authority signs for. */
  readonly trustDomain: TrustDomain;
  /** The algorithm of every key of this authority. */
  readonly alg: JwtSvidAlgorithm;
  #keys: readonly SigningKey[];
  #bundle: JwtBundle;

  private constructor(trustDomain: TrustDomain, alg: JwtSvidAlgorithm, first: SigningKey) {
    this.trustDomain = trustDomain;
    this.alg = alg;
    this.#keys = [first];
    this.#bundle = makeBundle(trustDomain, this.#keys);
  }

  /**
   * Creates an authority with one fresh key.
   *
   * @example
   * ```ts
   * const authority = await JwtAuthority.create({ trustDomain: 'example.org', alg: 'PS256' });
   * ```
   */
  static async create(options: JwtAuthorityOptions): Promise<JwtAuthority> {
    const trustDomain =
      typeof options.trustDomain === 'string'
        ? TrustDomain.parse(options.trustDomain)
        : options.trustDomain;
    const alg = options.alg ?? 'ES256';
    if (!isJwtSvidAlgorithm(alg)) {
      throw new InvalidArgumentError(`unsupported JWT-SVID algorithm ${JSON.stringify(alg)}`);
    }
    const kid = options.kid ?? newKid();
    checkKid(kid);
    return new JwtAuthority(trustDomain, alg, await newKey(alg, kid));
  }

  /**
   * The key ID new tokens are signed with.
   *
   * @example
   * ```ts
   * authority.currentKid; // 'hX3…'
   * ```
   */
  get currentKid(): string {
    return this.#current().kid;
  }

  /**
   * The key IDs in the bundle, oldest first.
   *
   * @example
   * ```ts
   * await authority.rotate();
   * authority.kids.length; // 2
   * ```
   */
  get kids(): readonly string[] {
    return Object.freeze(this.#keys.map((k) => k.kid));
  }

  /**
   * The current JWT bundle: the public key of every key not yet retired. The same object until
   * the keys change.
   *
   * @example
   * ```ts
   * const bundles = JwtBundleSet.of(authority.jwtBundle());
   * ```
   */
  jwtBundle(): JwtBundle {
    return this.#bundle;
  }

  /**
   * {@link JwtBundleSource}: the current bundle for this trust domain; throws
   * `BundleNotFoundError` for any other.
   *
   * @example
   * ```ts
   * await parseAndValidateJwtSvid(token, authority, 'reports'); // sees rotations
   * ```
   */
  getJwtBundleForTrustDomain(trustDomain: TrustDomain): JwtBundle {
    return this.#bundle.getJwtBundleForTrustDomain(trustDomain);
  }

  /**
   * Adds a new key beside the old ones (all stay in the bundle) and signs new tokens with it.
   * Returns the new key ID.
   *
   * @example
   * ```ts
   * const oldKid = authority.currentKid;
   * const newKid = await authority.rotate();
   * authority.retireOldKeys(); // now only newKid is trusted
   * ```
   */
  async rotate(options: { readonly kid?: string } = {}): Promise<string> {
    const kid = options.kid ?? newKid();
    checkKid(kid);
    if (this.#keys.some((k) => k.kid === kid)) {
      throw new InvalidArgumentError(`key ID ${JSON.stringify(kid)} is already in use`);
    }
    const key = await newKey(this.alg, kid);
    this.#keys = [...this.#keys, key];
    this.#bundle = makeBundle(this.trustDomain, this.#keys);
    return kid;
  }

  /**
   * Removes every key but the current one from the bundle; tokens they signed stop validating.
   *
   * @example
   * ```ts
   * authority.retireOldKeys();
   * authority.kids; // [authority.currentKid]
   * ```
   */
  retireOldKeys(): void {
    if (this.#keys.length === 1) return;
    this.#keys = [this.#current()];
    this.#bundle = makeBundle(this.trustDomain, this.#keys);
  }

  /**
   * Mints a JWT-SVID that satisfies every rule of the JWT-SVID standard, signed with `jose`.
   * Header `{ alg, kid, typ: 'JWT' }`; claims `sub`, `aud`, `iat`, `exp` (and `nbf` and
   * `extraClaims` when given). The times are yours: a past `expiresAt` gives an expired token.
   * Throws {@link InvalidArgumentError} for a subject outside the trust domain, an empty audience,
   * an unknown `kid`, or `extraClaims` that repeat a registered claim.
   *
   * @example
   * ```ts
   * const token = await authority.mint({
   *   subject: 'spiffe://example.org/web',
   *   audience: ['reports'],
   *   ttlSeconds: 60,
   *   extraClaims: { iss: 'test' },
   * });
   * ```
   */
  async mint(options: MintJwtSvidOptions): Promise<string> {
    const subject =
      typeof options.subject === 'string' ? SpiffeId.parse(options.subject) : options.subject;
    if (!subject.memberOf(this.trustDomain)) {
      throw new InvalidArgumentError(
        `subject ${subject.toString()} is not in trust domain "${this.trustDomain.name}"; use mintUnchecked for foreign subjects`,
      );
    }
    const audience = options.audience;
    if (
      audience.length === 0 ||
      (typeof audience !== 'string' && audience.some((a) => typeof a !== 'string' || a === ''))
    ) {
      throw new InvalidArgumentError('mint needs a non-empty audience of non-empty strings');
    }
    for (const name of REGISTERED) {
      if (options.extraClaims && Object.hasOwn(options.extraClaims, name)) {
        throw new InvalidArgumentError(
          `extraClaims must not set "${name}"; use the matching option (or mintUnchecked)`,
        );
      }
    }
    const key = this.#key(options.kid);
    const claims = this.#baseClaims({ ...options, subject: subject.toString() });
    const header: { alg: string; kid?: string; typ?: string } = { alg: this.alg };
    if (options.omitKid !== true) header.kid = key.kid;
    const typ = options.typ ?? 'JWT';
    if (typ !== false) header.typ = typ;
    return new SignJWT(claims).setProtectedHeader(header).sign(key.privateKey);
  }

  /**
   * Mints a token with {@link JwtAuthority.mint} and parses it (without a signature check) into a
   * {@link JwtSvid}, with `hint`: handy for Workload API fakes.
   *
   * @example
   * ```ts
   * const svid = await authority.mintSvid({ subject: 'spiffe://example.org/web', audience: 'db' });
   * ```
   */
  async mintSvid(options: MintJwtSvidOptions & { readonly hint?: string }): Promise<JwtSvid> {
    const token = await this.mint(options);
    const svid = await parseInsecureJwtSvid(token, options.audience, {
      clockTolerance: Number.MAX_SAFE_INTEGER,
    });
    return options.hint === undefined ? svid : svid.withHint(options.hint);
  }

  /**
   * Mints a deliberately bad (or merely unusual) token from parts, for negative tests. Nothing is
   * validated; see {@link MintUncheckedOptions} for every knob.
   *
   * @example
   * ```ts
   * const sub = 'spiffe://example.org/web';
   * await authority.mintUnchecked({ subject: sub, signer: 'none' });             // alg none
   * await authority.mintUnchecked({ subject: sub, signer: 'hs256-public-key' }); // alg confusion
   * await authority.mintUnchecked({ subject: sub, header: { kid: undefined } }); // no kid
   * await authority.mintUnchecked({ subject: sub, claims: { exp: undefined } }); // no exp
   * await authority.mintUnchecked({ subject: sub, tamperSignature: true });
   * await authority.mintUnchecked({ subject: sub, serialization: 'flattened-json' });
   * ```
   */
  mintUnchecked(options: MintUncheckedOptions = {}): Promise<string> {
    return new Promise<string>((resolve) => {
      resolve(this.#mintUnchecked(options));
    });
  }

  #mintUnchecked(options: MintUncheckedOptions): string {
    const key = this.#key(options.kid);
    const claims = merge(
      this.#baseClaims({
        ...options,
        subject: Object.hasOwn(options, 'subject')
          ? options.subject
          : `${this.trustDomain.idString()}/workload`,
        audience: Object.hasOwn(options, 'audience') ? options.audience : 'test-audience',
      }),
      options.claims,
    );
    const signer = options.signer ?? 'authority';
    const alg = signerAlg(signer, this.alg);
    const header = merge({ alg, kid: key.kid, typ: 'JWT' }, options.header);
    const encodedHeader = base64url.encode(options.rawHeader ?? JSON.stringify(header));
    const encodedPayload = base64url.encode(options.rawPayload ?? JSON.stringify(claims));
    const input = Buffer.from(`${encodedHeader}.${encodedPayload}`, 'latin1');
    let signature = signWith(signer, this.alg, key, input);
    if (options.tamperSignature === true) {
      signature = Uint8Array.from(signature);
      if (signature.length === 0) signature = Uint8Array.of(1);
      else signature[signature.length >> 1] = (signature[signature.length >> 1] ?? 0) ^ 0x01;
    }
    const payload =
      options.tamperClaims === undefined
        ? encodedPayload
        : base64url.encode(JSON.stringify(merge(claims, options.tamperClaims)));
    const encodedSignature = base64url.encode(signature);

    switch (options.serialization ?? 'compact') {
      case 'flattened-json':
        return JSON.stringify({
          protected: encodedHeader,
          payload,
          signature: encodedSignature,
        });
      case 'general-json':
        return JSON.stringify({
          payload,
          signatures: [{ protected: encodedHeader, signature: encodedSignature }],
        });
      case 'compact': {
        const parts = [encodedHeader, payload, encodedSignature];
        const count = options.parts ?? 3;
        if (!Number.isInteger(count) || count < 1) {
          throw new InvalidArgumentError('parts must be a positive integer');
        }
        while (parts.length < count) parts.push(encodedSignature);
        return parts.slice(0, count).join('.');
      }
    }
  }

  #current(): SigningKey {
    const key = this.#keys[this.#keys.length - 1];
    if (key === undefined) throw new Error('unreachable: an authority always has a key');
    return key;
  }

  #key(kid: string | undefined): SigningKey {
    if (kid === undefined) return this.#current();
    const key = this.#keys.find((k) => k.kid === kid);
    if (key === undefined) {
      throw new InvalidArgumentError(
        `this authority has no key ${JSON.stringify(kid)} (retired or never created)`,
      );
    }
    return key;
  }

  #baseClaims(options: {
    readonly subject: unknown;
    readonly audience: unknown;
    readonly ttlSeconds?: number;
    readonly expiresAt?: NumericDateInput;
    readonly notBefore?: NumericDateInput;
    readonly issuedAt?: NumericDateInput;
    readonly extraClaims?: Readonly<Record<string, unknown>>;
  }): Record<string, unknown> {
    const iat =
      options.issuedAt === undefined ? Math.floor(Date.now() / 1000) : seconds(options.issuedAt);
    const exp =
      options.expiresAt === undefined
        ? iat + (options.ttlSeconds ?? DEFAULT_TTL_SECONDS)
        : seconds(options.expiresAt);
    const claims: Record<string, unknown> = {
      ...options.extraClaims,
      sub: options.subject,
      aud: options.audience,
      iat,
      exp,
    };
    if (options.notBefore !== undefined) claims['nbf'] = seconds(options.notBefore);
    return claims;
  }
}

function seconds(value: NumericDateInput): number {
  return value instanceof Date ? Math.floor(value.getTime() / 1000) : value;
}

function merge(
  base: Record<string, unknown>,
  overrides: Readonly<Record<string, unknown>> | undefined,
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  if (overrides === undefined) return out;
  for (const [name, value] of Object.entries(overrides)) {
    if (value === undefined) Reflect.deleteProperty(out, name);
    else out[name] = value;
  }
  return out;
}

function signerAlg(signer: UncheckedSigner, authorityAlg: JwtSvidAlgorithm): string {
  switch (signer) {
    case 'authority':
      return authorityAlg;
    case 'none':
      return 'none';
    case 'hs256-public-key':
      return 'HS256';
    case 'eddsa':
      return 'EdDSA';
    default:
      return signer.alg;
  }
}

function signWith(
  signer: UncheckedSigner,
  authorityAlg: JwtSvidAlgorithm,
  key: SigningKey,
  input: Uint8Array,
): Uint8Array {
  switch (signer) {
    case 'authority':
      return forgeJwsSignature(authorityAlg, key.privateKey, input);
    case 'none':
      return new Uint8Array(0);
    case 'hs256-public-key': {
      // The classic confusion: a verifier that feeds "the key" to HMAC when alg says HS256.
      const pem = key.publicKey.export({ type: 'spki', format: 'pem' });
      return createHmac('sha256', pem).update(input).digest();
    }
    case 'eddsa':
      return sign(null, input, generateKeyPairSync('ed25519').privateKey);
    default:
      return signCustom(signer.alg, signer.key, input);
  }
}

function signCustom(alg: string, key: KeyObject, input: Uint8Array): Uint8Array {
  if (alg === 'EdDSA') return sign(null, input, key);
  if (alg.startsWith('HS')) {
    return createHmac(`sha${alg.slice(2)}`, key)
      .update(input)
      .digest();
  }
  if (isJwtSvidAlgorithm(alg)) {
    // Signs even with a key that does not fit `alg` whenever node:crypto can (e.g. RS256 with an
    // RSA-1024 key): that is the point of unchecked tokens.
    try {
      return forgeJwsSignature(alg, key, input);
    } catch (err) {
      throw new InvalidArgumentError(`node:crypto cannot make an ${alg} signature with this key`, {
        cause: err,
      });
    }
  }
  throw new InvalidArgumentError(`mintUnchecked cannot sign with alg ${JSON.stringify(alg)}`);
}

function newKid(): string {
  return base64url.encode(randomBytes(24));
}

function checkKid(kid: string): void {
  if (typeof kid !== 'string' || kid.length === 0) {
    throw new InvalidArgumentError('a key ID must be a non-empty string');
  }
}

async function newKey(alg: JwtSvidAlgorithm, kid: string): Promise<SigningKey> {
  const params = keyGenerationParams(alg);
  const { privateKey, publicKey } =
    params.type === 'ec'
      ? await generateKeyPairAsync('ec', { namedCurve: params.namedCurve })
      : await generateKeyPairAsync('rsa', { modulusLength: params.modulusLength });
  return Object.freeze({ kid, privateKey, publicKey });
}

function makeBundle(trustDomain: TrustDomain, keys: readonly SigningKey[]): JwtBundle {
  return JwtBundle.fromAuthorities(trustDomain, new Map(keys.map((k) => [k.kid, k.publicKey])));
}
