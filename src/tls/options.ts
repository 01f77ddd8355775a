import { constants } from 'node:crypto';
import { InvalidArgumentError } from '../errors.js';

/**
 * The TLS versions a mode may use; TLS 1.2 is the minimum, as in go-spiffe.
 *
 * @example
 * ```ts
 * const min: TlsVersion = 'TLSv1.3';
 * ```
 */
export type TlsVersion = 'TLSv1.2' | 'TLSv1.3';

/**
 * TLS context settings of a mode. They go into the mode's cached `SecureContext` (clients) or into
 * the complete option set that every `setSecureContext` receives (servers), so they survive
 * rotation. Per-connection options cannot change them.
 *
 * @example
 * ```ts
 * const mode = mtlsClient(source, authorizeAny(), { minVersion: 'TLSv1.3' });
 * ```
 */
export interface TlsContextOptions {
  /** Lowest TLS version (default `'TLSv1.2'`; older versions are refused). */
  readonly minVersion?: TlsVersion;
  /** Highest TLS version (default: Node's, TLS 1.3). */
  readonly maxVersion?: TlsVersion;
  /** OpenSSL cipher list (TLS 1.2) and suites (TLS 1.3), as for `tls.createSecureContext`. */
  readonly ciphers?: string;
  /** Signature algorithms, as for `tls.createSecureContext`. */
  readonly sigalgs?: string;
  /** ECDH curves, as for `tls.createSecureContext`. */
  readonly ecdhCurve?: string;
  /**
   * Extra OpenSSL `SSL_OP_*` flags. They are OR-ed with the SDK's flags (no renegotiation, and
   * no session tickets unless identity-bound resumption is on), which cannot be turned off.
   */
  readonly secureOptions?: number;
}

/** Resolved context settings. */
export interface ContextSettings {
  readonly minVersion: TlsVersion;
  readonly maxVersion: TlsVersion | undefined;
  readonly ciphers: string | undefined;
  readonly sigalgs: string | undefined;
  readonly ecdhCurve: string | undefined;
  readonly secureOptions: number;
}

/** Renegotiation is refused everywhere: no JS hook runs on a TLS 1.2 renegotiation. */
export const SSL_OP_NO_RENEGOTIATION = constants.SSL_OP_NO_RENEGOTIATION;
/** No (stateless) session tickets: resumption would skip peer verification. */
export const SSL_OP_NO_TICKET = constants.SSL_OP_NO_TICKET;

const VERSIONS: readonly string[] = ['TLSv1.2', 'TLSv1.3'];

function optionalString(value: unknown, name: string, what: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value === '') {
    throw new InvalidArgumentError(`${what}: option "${name}" must be a non-empty string`);
  }
  return value;
}

/** Validates mode-level context options. */
export function resolveContextOptions(
  options: TlsContextOptions | undefined,
  what: string,
): ContextSettings {
  const o = options ?? {};
  if (typeof o !== 'object') throw new InvalidArgumentError(`${what}: options must be an object`);
  const minVersion = o.minVersion ?? 'TLSv1.2';
  if (!VERSIONS.includes(minVersion)) {
    throw new InvalidArgumentError(
      `${what}: minVersion "${minVersion}" is refused: TLS 1.2 is the minimum (use 'TLSv1.2' or 'TLSv1.3')`,
    );
  }
  const maxVersion = o.maxVersion;
  if (maxVersion !== undefined && !VERSIONS.includes(maxVersion)) {
    throw new InvalidArgumentError(
      `${what}: maxVersion "${maxVersion}" is refused: use 'TLSv1.2' or 'TLSv1.3'`,
    );
  }
  if (maxVersion === 'TLSv1.2' && minVersion === 'TLSv1.3') {
    throw new InvalidArgumentError(`${what}: maxVersion TLSv1.2 is below minVersion TLSv1.3`);
  }
  const secureOptions = o.secureOptions ?? 0;
  if (!Number.isSafeInteger(secureOptions) || secureOptions < 0) {
    throw new InvalidArgumentError(`${what}: secureOptions must be a non-negative integer`);
  }
  return Object.freeze({
    minVersion,
    maxVersion,
    ciphers: optionalString(o.ciphers, 'ciphers', what),
    sigalgs: optionalString(o.sigalgs, 'sigalgs', what),
    ecdhCurve: optionalString(o.ecdhCurve, 'ecdhCurve', what),
    secureOptions,
  });
}

/** The context settings as `tls.createSecureContext` options (undefined ones left out). */
export function contextSettingsOptions(s: ContextSettings): Record<string, unknown> {
  const out: Record<string, unknown> = { minVersion: s.minVersion };
  if (s.maxVersion !== undefined) out['maxVersion'] = s.maxVersion;
  if (s.ciphers !== undefined) out['ciphers'] = s.ciphers;
  if (s.sigalgs !== undefined) out['sigalgs'] = s.sigalgs;
  if (s.ecdhCurve !== undefined) out['ecdhCurve'] = s.ecdhCurve;
  return out;
}

const CONTEXT_KEYS = [
  'minVersion',
  'maxVersion',
  'ciphers',
  'sigalgs',
  'ecdhCurve',
  'secureOptions',
] as const;

const MATERIAL =
  'the SDK builds the TLS context from the source (certificates, key and trust bundles as PEM)';

/** Options a caller may never pass with a client mode, and why. */
const REFUSED_CLIENT: Readonly<Record<string, string>> = {
  ca: `${MATERIAL}; trust comes from the source's bundles`,
  cert: MATERIAL,
  key: MATERIAL,
  pfx: MATERIAL,
  passphrase: MATERIAL,
  crl: MATERIAL,
  secureContext: MATERIAL,
  allowPartialTrustChain: MATERIAL,
  clientCertEngine: MATERIAL,
  privateKeyEngine: MATERIAL,
  privateKeyIdentifier: MATERIAL,
  checkServerIdentity:
    "the SDK verifies the server itself; put extra checks into the mode's Authorizer",
  session: 'a resumed TLS session skips server verification, so the SDK never resumes',
  pskCallback: 'pre-shared keys would bypass certificate authentication',
  secureProtocol: 'it would override the TLS version bounds; set minVersion on the mode',
  honorCipherOrder: 'set TLS context options on the mode',
  dhparam: 'set TLS context options on the mode',
};

/** Options a caller may never pass when creating a server for a server mode, and why. */
const REFUSED_SERVER: Readonly<Record<string, string>> = {
  ...REFUSED_CLIENT,
  checkServerIdentity: 'it is a client option',
  session: 'it is a client option',
  requestCert: 'the mode decides whether clients must present a certificate',
  SNICallback:
    "a per-SNI context would bypass the SDK's trust store, session and renegotiation settings (and is not consulted for clients without SNI)",
  pskIdentityHint: 'pre-shared keys would bypass certificate authentication',
  ticketKeys:
    'shared ticket keys would let sessions outlive a rotation; the SDK uses fresh keys per trust generation',
  sessionIdContext: 'the SDK binds sessions to the current trust generation',
  sessionTimeout: 'set it on the mode (identity-bound resumption only)',
};

function describeValue(value: unknown): string {
  return typeof value === 'string' || typeof value === 'boolean' || typeof value === 'number'
    ? String(value)
    : typeof value;
}

function refuse(
  options: Readonly<Record<string, unknown>>,
  refused: Readonly<Record<string, string>>,
  what: string,
): void {
  for (const key of Object.keys(refused)) {
    if (options[key] !== undefined) {
      throw new InvalidArgumentError(`${what}: option "${key}" is refused: ${refused[key]}`);
    }
  }
  for (const key of CONTEXT_KEYS) {
    if (options[key] !== undefined) {
      throw new InvalidArgumentError(
        `${what}: option "${key}" is refused here: it is a TLS context setting; pass it when creating the mode, e.g. mtlsClient(source, authorizer, { ${key}: … })`,
      );
    }
  }
  if (options['rejectUnauthorized'] !== undefined && options['rejectUnauthorized'] !== true) {
    throw new InvalidArgumentError(
      `${what}: option "rejectUnauthorized: ${describeValue(options['rejectUnauthorized'])}" is refused: peers are always verified`,
    );
  }
}

/** Throws InvalidArgumentError for any option that would weaken a client connection. */
export function refuseClientOptions(options: object | undefined, what: string): void {
  if (options === undefined) return;
  if (typeof options !== 'object' || (options as unknown) === null) {
    throw new InvalidArgumentError(`${what}: options must be an object`);
  }
  refuse(options as Record<string, unknown>, REFUSED_CLIENT, what);
}

/** Throws InvalidArgumentError for any option that would weaken a server. */
export function refuseServerOptions(options: object | undefined, what: string): void {
  if (options === undefined) return;
  if (typeof options !== 'object' || (options as unknown) === null) {
    throw new InvalidArgumentError(`${what}: options must be an object`);
  }
  refuse(options as Record<string, unknown>, REFUSED_SERVER, what);
}

/**
 * The connection-level options that https, http2 and undici hand to a connection factory and that
 * the SDK passes on to `tls.connect`. Everything else (their copies of our own settings, request
 * headers, …) is dropped.
 */
const CONNECTION_KEYS = [
  'host',
  'port',
  'servername',
  'localAddress',
  'localPort',
  'family',
  'hints',
  'lookup',
  'timeout',
  'ALPNProtocols',
  'highWaterMark',
  'autoSelectFamily',
  'autoSelectFamilyAttemptTimeout',
  'noDelay',
  'keepAlive',
  'keepAliveInitialDelay',
  'signal',
  'enableTrace',
  'requestOCSP',
  'minDHSize',
] as const;

/** Picks the connection-level options of `options`. */
export function pickConnectionOptions(options: object): Record<string, unknown> {
  const src = options as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const key of CONNECTION_KEYS) {
    if (src[key] !== undefined) out[key] = src[key];
  }
  return out;
}
