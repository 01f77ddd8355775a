// @peculiar/x509 uses decorators that need the global Reflect metadata polyfill; it must load first.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { KeyObject, randomBytes, webcrypto, X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { MAX_BUNDLE_DOCUMENT_SIZE } from '../bundle/limits.js';
import { SpiffeBundle } from '../bundle/spiffe-bundle.js';
import { InvalidArgumentError } from '../errors.js';
import { RecordWaiters } from './record-waiters.js';
import { SpiffeId, TrustDomain } from '../spiffeid/index.js';
import type { X509Svid } from '../svid/x509-svid.js';
import { TestCA } from './test-ca.js';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

/**
 * A fault a {@link BundleEndpointServer} injects into its answers until `clearFault()`:
 *
 * - `status`: answer `status` (404, 500, a 302 with `headers: { location }`, …) with `body`;
 * - `invalid-json`: 200 `application/json` with a truncated JSON document;
 * - `slow`: wait `delayMs` before the answer (`phase: 'headers'`, default), or send the headers
 *   and half the body, then wait (`phase: 'body'`);
 * - `wrong-trust-domain`: 200 with `bundle`, by default the bundle of another trust domain's CA
 *   (its root has that trust domain's SPIFFE ID);
 * - `oversized`: 200 with a JSON body of `bytes` bytes (default `MAX_BUNDLE_DOCUMENT_SIZE + 1`;
 *   `Infinity` streams until the client goes away), with a `Content-Length` only when
 *   `declareLength` is true;
 * - `content-type`: the real bundle with this `Content-Type` (`undefined`: no header).
 *
 * @example
 * ```ts
 * server.setFault({ kind: 'status', status: 404 });
 * server.setFault({ kind: 'slow', delayMs: 60_000 });
 * server.setFault({ kind: 'status', status: 302, headers: { location: other.url } });
 * ```
 */
export type BundleEndpointFault =
  | {
      /** Answer with another status. */
      readonly kind: 'status';
      /** The HTTP status. */
      readonly status: number;
      /** The body (default empty). */
      readonly body?: string;
      /** Extra headers, e.g. `location`. */
      readonly headers?: Readonly<Record<string, string>>;
    }
  | {
      /** Answer 200 with a truncated JSON document. */
      readonly kind: 'invalid-json';
    }
  | {
      /** Answer late. */
      readonly kind: 'slow';
      /** How long to wait, in milliseconds. */
      readonly delayMs: number;
      /** What waits: the headers (default) or the second half of the body. */
      readonly phase?: 'headers' | 'body';
    }
  | {
      /** Serve another trust domain's bundle. */
      readonly kind: 'wrong-trust-domain';
      /** The bundle to serve (default: a CA of trust domain `wrong.test`). */
      readonly bundle?: SpiffeBundle;
    }
  | {
      /** Serve a body over the size limit. */
      readonly kind: 'oversized';
      /** The body size (default `MAX_BUNDLE_DOCUMENT_SIZE + 1`; `Infinity` never ends). */
      readonly bytes?: number;
      /** Send a `Content-Length` (default: chunked, so only streaming reveals the size). */
      readonly declareLength?: boolean;
    }
  | {
      /** Serve the bundle with another Content-Type. */
      readonly kind: 'content-type';
      /** The Content-Type, or `undefined` for none. */
      readonly contentType: string | undefined;
    };

/**
 * Options of {@link BundleEndpointServer.create}.
 *
 * @example
 * ```ts
 * const options: BundleEndpointServerCreateOptions = {
 *   profile: 'https_spiffe',
 *   trustDomain: 'partner.test',
 *   endpointId: 'spiffe://partner.test/bundle-endpoint',
 * };
 * ```
 */
export interface BundleEndpointServerCreateOptions {
  /** The endpoint profile (SPIFFE Federation §5.2). */
  readonly profile: 'https_web' | 'https_spiffe';
  /** The trust domain whose bundle is served. */
  readonly trustDomain: TrustDomain | string;
  /**
   * The bundle served at first. Default: the X.509 authorities of the serving CA when it belongs
   * to `trustDomain` (a self-serving https_spiffe endpoint), else an empty bundle.
   */
  readonly bundle?: SpiffeBundle;
  /** The path the bundle is served on; other paths get 404. Default `/`. */
  readonly path?: string;
  /** Serve a certificate that expired an hour ago. */
  readonly expired?: boolean;
  /** https_web: DNS SANs of the server certificate. Default `['localhost']`. */
  readonly dnsNames?: readonly string[];
  /** https_web: IP SANs of the server certificate. Default `['127.0.0.1']`. */
  readonly ipAddresses?: readonly string[];
  /** https_web: URI SANs of the server certificate. Default none. */
  readonly uris?: readonly string[];
  /** https_spiffe: the endpoint's SPIFFE ID. Default `spiffe://<trustDomain>/bundle-endpoint`. */
  readonly endpointId?: SpiffeId | string;
  /** https_spiffe: the CA that issues the serving SVID. Default: a new one for `endpointId`'s trust domain. */
  readonly ca?: TestCA;
  /** https_spiffe: serve this SVID instead of issuing one. */
  readonly svid?: X509Svid;
}

/**
 * One request a {@link BundleEndpointServer} received.
 *
 * @example
 * ```ts
 * const request = await server.waitForRequest();
 * request.headers['accept']; // 'application/json, application/jwk-set+json'
 * ```
 */
export interface BundleEndpointRequest {
  /** 0 for the first request, then 1, 2, … */
  readonly index: number;
  /** The HTTP method. */
  readonly method: string;
  /** The request target (path and query). */
  readonly path: string;
  /** The request headers (lower-case names). */
  readonly headers: Readonly<IncomingHttpHeaders>;
  /** The fault that answered it, or `undefined` for a normal answer. */
  readonly fault: BundleEndpointFault['kind'] | undefined;
}

const CHUNK = 64 * 1024;
const HOUR = 3_600_000;
const EC = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

function serial(): string {
  const bytes = randomBytes(16);
  bytes[0] = ((bytes[0] ?? 0) & 0x7f) | 0x01;
  return bytes.toString('hex');
}

async function ecKeys(): Promise<webcrypto.CryptoKeyPair> {
  return webcrypto.subtle.generateKey(EC, true, ['sign', 'verify']);
}

/** A self-signed stand-in for a public CA and a server certificate it issued. */
async function webPki(
  names: { dns: readonly string[]; ip: readonly string[]; uri: readonly string[] },
  expired: boolean,
): Promise<{ root: X509Certificate; key: string; cert: string; leaf: X509Certificate }> {
  const now = Date.now();
  const rootKeys = await ecKeys();
  const root = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `O=spiffe-sdk test Web PKI, CN=root ${serial().slice(0, 8)}`,
    notBefore: new Date(now - 2 * HOUR),
    notAfter: new Date(now + 24 * HOUR),
    keys: rootKeys,
    signingAlgorithm: EC,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign,
        true,
      ),
      await x509.SubjectKeyIdentifierExtension.create(rootKeys.publicKey),
    ],
  });
  const leafKeys = await ecKeys();
  const sans = [
    ...names.dns.map((value) => ({ type: 'dns' as const, value })),
    ...names.ip.map((value) => ({ type: 'ip' as const, value })),
    ...names.uri.map((value) => ({ type: 'url' as const, value })),
  ];
  const leaf = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    // No CN: Node falls back to the CN when there is no DNS SAN, which would blur SAN tests.
    subject: 'O=spiffe-sdk test bundle endpoint',
    issuer: root.subject,
    notBefore: new Date(now - (expired ? 2 * HOUR : 60_000)),
    notAfter: new Date(now + (expired ? -HOUR : 12 * HOUR)),
    publicKey: leafKeys.publicKey,
    signingKey: rootKeys.privateKey,
    signingAlgorithm: EC,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      ...(sans.length > 0 ? [new x509.SubjectAlternativeNameExtension(sans)] : []),
      await x509.AuthorityKeyIdentifierExtension.create(rootKeys.publicKey),
    ],
  });
  const nodeRoot = new X509Certificate(Buffer.from(root.rawData));
  const nodeLeaf = new X509Certificate(Buffer.from(leaf.rawData));
  return {
    root: nodeRoot,
    leaf: nodeLeaf,
    key: KeyObject.from(leafKeys.privateKey).export({ type: 'pkcs8', format: 'pem' }) as string,
    cert: nodeLeaf.toString(),
  };
}

function svidPem(svid: X509Svid): { key: string; cert: string; leaf: X509Certificate } {
  const m = svid.marshal();
  const [leaf] = svid.certificates;
  // An X509Svid always has its leaf; the check only satisfies the type.
  if (leaf === undefined) throw new InvalidArgumentError('the X509-SVID has no certificate');
  return { key: m.privateKey, cert: m.certificates, leaf };
}

/**
 * A SPIFFE bundle endpoint for tests (SPIFFE Federation §5.2), on 127.0.0.1 and an ephemeral
 * port: `https_web` with a freshly made test Web PKI (a root to pass as `roots`, and a server
 * certificate for `localhost` and `127.0.0.1` by default), or `https_spiffe` with an X509-SVID from
 * a {@link TestCA}. The served bundle can be replaced at any time, faults can be injected
 * ({@link BundleEndpointFault}), and every request is recorded. It uses plain `node:https`, not
 * the SDK's TLS or federation code, so it can check them. Not for production.
 *
 * @example
 * ```ts
 * import { BundleEndpointServer } from 'spiffe-sdk/testing';
 * import { fetchBundle } from 'spiffe-sdk/federation';
 *
 * await using server = await BundleEndpointServer.create({ profile: 'https_web', trustDomain: 'partner.test', bundle });
 * const fetched = await fetchBundle('partner.test', server.url, {
 *   auth: { profile: 'https_web', roots: [server.webRootPem!] },
 * });
 * server.setFault({ kind: 'status', status: 404 }); // the next fetch fails
 * ```
 */
export class BundleEndpointServer {
  /** The endpoint profile. */
  readonly profile: 'https_web' | 'https_spiffe';
  /** The trust domain whose bundle is served. */
  readonly trustDomain: TrustDomain;
  /** The port on 127.0.0.1. */
  readonly port: number;
  /** `https://127.0.0.1:<port><path>`. */
  readonly url: string;
  /** https_web: the test Web PKI root that issued the server certificate. */
  readonly webRoot: X509Certificate | undefined;
  /** https_web: {@link BundleEndpointServer.webRoot} as PEM. */
  readonly webRootPem: string | undefined;
  /** https_spiffe: the SPIFFE ID the endpoint presents. */
  readonly endpointId: SpiffeId | undefined;
  /** https_spiffe: the CA that issued the serving SVID. */
  readonly ca: TestCA | undefined;
  readonly #server: https.Server;
  readonly #path: string;
  readonly #otherBundle: SpiffeBundle;
  readonly #requests: BundleEndpointRequest[] = [];
  readonly #waiters = new RecordWaiters<BundleEndpointRequest>(() => this.#requests);
  readonly #timers = new Set<NodeJS.Timeout>();
  #certificate: X509Certificate;
  #bundle: SpiffeBundle;
  #fault: BundleEndpointFault | undefined;
  #closing: Promise<void> | undefined;

  private constructor(params: {
    options: BundleEndpointServerCreateOptions;
    trustDomain: TrustDomain;
    server: https.Server;
    port: number;
    path: string;
    bundle: SpiffeBundle;
    otherBundle: SpiffeBundle;
    certificate: X509Certificate;
    webRoot: X509Certificate | undefined;
    endpointId: SpiffeId | undefined;
    ca: TestCA | undefined;
  }) {
    this.profile = params.options.profile;
    this.trustDomain = params.trustDomain;
    this.#server = params.server;
    this.port = params.port;
    this.#path = params.path;
    this.url = `https://127.0.0.1:${params.port}${params.path}`;
    this.#bundle = params.bundle;
    this.#otherBundle = params.otherBundle;
    this.#certificate = params.certificate;
    this.webRoot = params.webRoot;
    this.webRootPem = params.webRoot?.toString();
    this.endpointId = params.endpointId;
    this.ca = params.ca;
  }

  /**
   * Makes the certificates, starts the server on 127.0.0.1 and an ephemeral port, and resolves
   * once it listens.
   *
   * @example
   * ```ts
   * const web = await BundleEndpointServer.create({ profile: 'https_web', trustDomain: 'partner.test' });
   * const spiffe = await BundleEndpointServer.create({ profile: 'https_spiffe', trustDomain: 'partner.test', ca });
   * ```
   */
  static async create(options: BundleEndpointServerCreateOptions): Promise<BundleEndpointServer> {
    const td =
      typeof options.trustDomain === 'string'
        ? TrustDomain.parse(options.trustDomain)
        : options.trustDomain;
    const path = options.path ?? '/';
    if (!path.startsWith('/')) throw new InvalidArgumentError('path must start with "/"');
    const other = await TestCA.create({
      trustDomain: td.name === 'wrong.test' ? 'other.wrong.test' : 'wrong.test',
    });
    let tlsOptions: { key: string; cert: string };
    let certificate: X509Certificate;
    let webRoot: X509Certificate | undefined;
    let endpointId: SpiffeId | undefined;
    let ca: TestCA | undefined;
    // Plain JavaScript callers can pass anything.
    const profile: unknown = options.profile;
    if (profile === 'https_web') {
      const pki = await webPki(
        {
          dns: options.dnsNames ?? ['localhost'],
          ip: options.ipAddresses ?? ['127.0.0.1'],
          uri: options.uris ?? [],
        },
        options.expired === true,
      );
      tlsOptions = { key: pki.key, cert: pki.cert };
      certificate = pki.leaf;
      webRoot = pki.root;
    } else if (profile === 'https_spiffe') {
      endpointId =
        options.endpointId === undefined
          ? SpiffeId.fromSegments(td, 'bundle-endpoint')
          : typeof options.endpointId === 'string'
            ? SpiffeId.parse(options.endpointId)
            : options.endpointId;
      ca = options.ca ?? (await TestCA.create({ trustDomain: endpointId.trustDomain }));
      const now = Date.now();
      const svid =
        options.svid ??
        (await ca.issueX509Svid(
          endpointId,
          options.expired === true
            ? { notBefore: new Date(now - 2 * HOUR), notAfter: new Date(now - HOUR) }
            : {},
        ));
      ({ leaf: certificate, ...tlsOptions } = svidPem(svid));
    } else {
      throw new InvalidArgumentError("profile must be 'https_web' or 'https_spiffe'");
    }
    const bundle =
      options.bundle ??
      (ca?.trustDomain.equals(td) === true
        ? SpiffeBundle.fromX509Bundle(ca.x509Bundle())
        : SpiffeBundle.empty(td));
    const server = https.createServer(tlsOptions);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const instance = new BundleEndpointServer({
      options,
      trustDomain: td,
      server,
      port: (server.address() as AddressInfo).port,
      path,
      bundle,
      otherBundle: SpiffeBundle.fromX509Bundle(other.x509Bundle()),
      certificate,
      webRoot,
      endpointId,
      ca,
    });
    // Attached in the same tick as 'listening': no request can have been parsed before.
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      instance.#handle(req, res);
    });
    return instance;
  }

  /**
   * The bundle served now.
   *
   * @example
   * ```ts
   * server.bundle.x509Authorities.length;
   * ```
   */
  get bundle(): SpiffeBundle {
    return this.#bundle;
  }

  /**
   * The leaf certificate the server presents now.
   *
   * @example
   * ```ts
   * server.certificate.serialNumber;
   * ```
   */
  get certificate(): X509Certificate {
    return this.#certificate;
  }

  /**
   * Every request received so far, oldest first.
   *
   * @example
   * ```ts
   * server.requests.length;
   * ```
   */
  get requests(): readonly BundleEndpointRequest[] {
    return Object.freeze([...this.#requests]);
  }

  /**
   * Serves `bundle` from the next request on.
   *
   * @example
   * ```ts
   * server.setBundle(bundle.withSequenceNumber(2n).withX509Authority(newRoot));
   * ```
   */
  setBundle(bundle: SpiffeBundle): void {
    if (!(bundle instanceof SpiffeBundle)) {
      throw new InvalidArgumentError('setBundle: expected a SpiffeBundle');
    }
    this.#bundle = bundle;
  }

  /**
   * Presents `svid` on new connections (https_spiffe only), e.g. one from a rotated or foreign CA.
   *
   * @example
   * ```ts
   * await ca.rotateX509Authority();
   * server.setSvid(await ca.issueX509Svid(server.endpointId!));
   * ```
   */
  setSvid(svid: X509Svid): void {
    if (this.profile !== 'https_spiffe') {
      throw new InvalidArgumentError('setSvid: only an https_spiffe endpoint presents an SVID');
    }
    const { leaf, ...pem } = svidPem(svid);
    this.#server.setSecureContext(pem);
    this.#certificate = leaf;
  }

  /**
   * Injects `fault` into every answer until {@link BundleEndpointServer.clearFault}.
   *
   * @example
   * ```ts
   * server.setFault({ kind: 'oversized', bytes: Infinity });
   * ```
   */
  setFault(fault: BundleEndpointFault): void {
    this.#fault = fault;
  }

  /**
   * Answers normally again.
   *
   * @example
   * ```ts
   * server.clearFault();
   * ```
   */
  clearFault(): void {
    this.#fault = undefined;
  }

  /**
   * Resolves with the first recorded request (already received or still to come) for which
   * `predicate` holds. Rejects when `options.signal` aborts or the server closes first.
   *
   * @example
   * ```ts
   * await server.waitForRequest((r) => r.index === 2); // the third request arrived
   * ```
   */
  waitForRequest(
    predicate: (request: BundleEndpointRequest) => boolean = () => true,
    options: { signal?: AbortSignal } = {},
  ): Promise<BundleEndpointRequest> {
    return this.#waiters.wait(predicate, options.signal);
  }

  /**
   * Stops the server, closes every connection and clears pending delays. Idempotent.
   *
   * @example
   * ```ts
   * await server.close();
   * ```
   */
  close(): Promise<void> {
    this.#closing ??= new Promise<void>((resolve) => {
      for (const timer of this.#timers) clearTimeout(timer);
      this.#timers.clear();
      this.#waiters.failAll(
        new InvalidArgumentError('the bundle endpoint server closed before the request came'),
      );
      this.#server.close(() => {
        resolve();
      });
      this.#server.closeAllConnections();
    });
    return this.#closing;
  }

  /**
   * Same as `close()`, for `await using`.
   *
   * @example
   * ```ts
   * await using server = await BundleEndpointServer.create({ profile: 'https_web', trustDomain: 'x.test' });
   * ```
   */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #later(ms: number, fn: () => void): void {
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      fn();
    }, ms);
    this.#timers.add(timer);
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    // The client may go away at any time (timeouts, size limits); writes then go nowhere.
    res.on('error', () => undefined);
    const path = req.url ?? '/';
    const fault = path.split('?')[0] === this.#path ? this.#fault : undefined;
    this.#requests.push(
      Object.freeze({
        index: this.#requests.length,
        method: req.method ?? '',
        path,
        headers: Object.freeze({ ...req.headers }),
        fault: fault?.kind,
      }),
    );
    this.#waiters.notify();
    if (path.split('?')[0] !== this.#path) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    const json = { 'content-type': 'application/json' };
    switch (fault?.kind) {
      case undefined:
        res.writeHead(200, json).end(this.#bundle.marshal());
        return;
      case 'status':
        res
          .writeHead(fault.status, { 'content-type': 'text/plain', ...fault.headers })
          .end(fault.body ?? '');
        return;
      case 'invalid-json':
        res.writeHead(200, json).end('{"keys":[');
        return;
      case 'wrong-trust-domain':
        res.writeHead(200, json).end((fault.bundle ?? this.#otherBundle).marshal());
        return;
      case 'content-type':
        res
          .writeHead(
            200,
            fault.contentType === undefined ? {} : { 'content-type': fault.contentType },
          )
          .end(this.#bundle.marshal());
        return;
      case 'slow':
        this.#slow(res, fault.delayMs, fault.phase ?? 'headers');
        return;
      case 'oversized':
        this.#oversized(
          res,
          fault.bytes ?? MAX_BUNDLE_DOCUMENT_SIZE + 1,
          fault.declareLength === true,
        );
        return;
    }
  }

  #slow(res: ServerResponse, delayMs: number, phase: 'headers' | 'body'): void {
    const body = this.#bundle.marshal();
    if (phase === 'headers') {
      this.#later(delayMs, () => {
        if (!res.destroyed) res.writeHead(200, { 'content-type': 'application/json' }).end(body);
      });
      return;
    }
    const half = Math.floor(body.length / 2);
    res.writeHead(200, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
    });
    res.write(body.slice(0, half));
    this.#later(delayMs, () => {
      if (!res.destroyed) res.end(body.slice(half));
    });
  }

  #oversized(res: ServerResponse, bytes: number, declareLength: boolean): void {
    const head = '{"keys":[],"padding":"';
    const tail = '"}';
    const headers: Record<string, string | number> = { 'content-type': 'application/json' };
    if (declareLength && Number.isFinite(bytes)) headers['content-length'] = bytes;
    res.writeHead(200, headers);
    res.write(head);
    let left = bytes - head.length - tail.length;
    const chunk = Buffer.alloc(CHUNK, 'a');
    const pump = (): void => {
      while (left > 0) {
        if (res.destroyed) return;
        const n = Math.min(CHUNK, left);
        left -= n;
        if (!res.write(n === CHUNK ? chunk : chunk.subarray(0, n))) {
          res.once('drain', pump);
          return;
        }
      }
      res.end(tail);
    };
    pump();
  }
}
