import { JwtBundleSet } from '../bundle/jwt-bundle-set.js';
import type { JwtBundle } from '../bundle/jwt-bundle.js';
import type { JwtBundleSource, SpiffeBundleSource, X509BundleSource } from '../bundle/source.js';
import { SpiffeBundle } from '../bundle/spiffe-bundle.js';
import { X509BundleSet } from '../bundle/x509-bundle-set.js';
import type { X509Bundle } from '../bundle/x509-bundle.js';
import { BundleNotFoundError, ClosedError } from '../errors.js';
import type { TrustDomain } from '../spiffeid/index.js';
import type { WorkloadApiClient, WorkloadApiClientOptions } from './client.js';
import { combineStatus, type SourceStatus } from './source-status.js';
import {
  checkTimeout,
  clientFor,
  StreamWatcher,
  UpdateListeners,
  waitUntilReady,
} from './stream-watcher.js';

/**
 * Options of {@link BundleSource.create}. Give either `client` (not closed by the source) or the
 * options of a client the source creates and owns.
 *
 * @example
 * ```ts
 * const options: BundleSourceOptions = { address: 'unix:///run/spire/agent.sock', timeout: 30_000 };
 * ```
 */
export interface BundleSourceOptions extends WorkloadApiClientOptions {
  /** Use this client (it stays open when the source closes). */
  readonly client?: WorkloadApiClient;
  /** Aborts `create()`. */
  readonly signal?: AbortSignal;
  /** How long `create()` waits for the first X.509 and JWT bundles, in ms. */
  readonly timeout?: number;
}

/**
 * One consistent view of a {@link BundleSource}.
 *
 * @example
 * ```ts
 * const { x509, jwt } = source.snapshot();
 * ```
 */
export interface BundleSourceSnapshot {
  /** Every trusted X.509 bundle (empty after a withdrawal). */
  readonly x509: X509BundleSet;
  /** Every trusted JWT bundle (empty after a withdrawal). */
  readonly jwt: JwtBundleSet;
  /** When this snapshot was made. */
  readonly updatedAt: Date;
}

const EMPTY_X509 = new X509BundleSet();
const EMPTY_JWT = new JwtBundleSet();

/**
 * The X.509 and JWT bundles of every trust domain the agent sends, kept up to date by a
 * `FetchX509Bundles` and a `FetchJWTBundles` watch (go-spiffe's `workloadapi.BundleSource`). For
 * workloads that verify peers but need no SVID of their own. A trust domain missing from an update
 * is no longer trusted; `PermissionDenied` withdraws the bundles of that stream.
 *
 * @example
 * ```ts
 * import { BundleSource } from 'spiffe-sdk/workloadapi';
 * import { verifyX509Svid } from 'spiffe-sdk/svid';
 *
 * await using bundles = await BundleSource.create({ timeout: 30_000 });
 * const { id } = verifyX509Svid(peerChain, bundles);
 * bundles.getBundleForTrustDomain(id.trustDomain).marshal(); // SPIFFE bundle JSON
 * ```
 */
export class BundleSource
  implements X509BundleSource, JwtBundleSource, SpiffeBundleSource, AsyncDisposable
{
  readonly #x509: StreamWatcher<'FetchX509Bundles'>;
  readonly #jwt: StreamWatcher<'FetchJWTBundles'>;
  readonly #ownsClient: boolean;
  readonly #listeners: UpdateListeners<BundleSourceSnapshot>;
  #view: BundleSourceSnapshot;
  #closed: Promise<void> | undefined;

  private constructor(
    x509: StreamWatcher<'FetchX509Bundles'>,
    jwt: StreamWatcher<'FetchJWTBundles'>,
    ownsClient: boolean,
  ) {
    this.#x509 = x509;
    this.#jwt = jwt;
    this.#ownsClient = ownsClient;
    this.#listeners = new UpdateListeners(x509.client);
    this.#view = this.#compute();
    const refresh = (): void => {
      this.#view = this.#compute();
      this.#listeners.emit(this.#view);
    };
    x509.subscribe(refresh);
    jwt.subscribe(refresh);
  }

  /**
   * Starts both watches and resolves once each has delivered; fails like
   * {@link X509Source.create}.
   *
   * @example
   * ```ts
   * const source = await BundleSource.create({ timeout: 10_000 });
   * ```
   */
  static async create(options: BundleSourceOptions = {}): Promise<BundleSource> {
    const timeout = checkTimeout(options.timeout, 'BundleSource');
    const { client, owned } = clientFor(options, 'BundleSource');
    const x509 = new StreamWatcher(client, 'FetchX509Bundles', (a, b) => a.equals(b));
    const jwt = new StreamWatcher(client, 'FetchJWTBundles', (a, b) => a.equals(b));
    x509.start();
    jwt.start();
    try {
      await waitUntilReady([x509, jwt], 'BundleSource', { signal: options.signal, timeout });
    } catch (err) {
      await Promise.all([x509.stop(), jwt.stop()]);
      if (owned) await client.close();
      throw err;
    }
    return new BundleSource(x509, jwt, owned);
  }

  /**
   * The SPIFFE bundle (X.509 and JWT authorities) of `trustDomain`. Throws
   * {@link BundleNotFoundError} when the agent sent neither kind for it.
   *
   * @example
   * ```ts
   * const bundle = source.getBundleForTrustDomain(TrustDomain.parse('partner.org'));
   * ```
   */
  getBundleForTrustDomain(trustDomain: TrustDomain): SpiffeBundle {
    const view = this.#open();
    const x509 = view.x509.get(trustDomain);
    const jwt = view.jwt.get(trustDomain);
    if (x509 === undefined && jwt === undefined) {
      throw new BundleNotFoundError(trustDomain.name, 'SPIFFE');
    }
    let bundle = SpiffeBundle.empty(trustDomain);
    if (x509 !== undefined) bundle = bundle.withX509Bundle(x509);
    if (jwt !== undefined) bundle = bundle.withJwtBundle(jwt);
    return bundle;
  }

  /**
   * The X.509 bundle of `trustDomain`; throws {@link BundleNotFoundError} when it is not trusted.
   *
   * @example
   * ```ts
   * verifyX509Svid(chain, source); // uses this method
   * ```
   */
  getX509BundleForTrustDomain(trustDomain: TrustDomain): X509Bundle {
    return this.#open().x509.getX509BundleForTrustDomain(trustDomain);
  }

  /**
   * The JWT bundle of `trustDomain`; throws {@link BundleNotFoundError} when it is not trusted.
   *
   * @example
   * ```ts
   * await parseAndValidateJwtSvid(token, source, 'spiffe://example.org/api'); // uses this method
   * ```
   */
  getJwtBundleForTrustDomain(trustDomain: TrustDomain): JwtBundle {
    return this.#open().jwt.getJwtBundleForTrustDomain(trustDomain);
  }

  /**
   * Every trusted X.509 bundle.
   *
   * @example
   * ```ts
   * source.getX509BundleSet().size;
   * ```
   */
  getX509BundleSet(): X509BundleSet {
    return this.#open().x509;
  }

  /**
   * Every trusted JWT bundle.
   *
   * @example
   * ```ts
   * source.getJwtBundleSet().size;
   * ```
   */
  getJwtBundleSet(): JwtBundleSet {
    return this.#open().jwt;
  }

  /**
   * Both sets as one immutable value.
   *
   * @example
   * ```ts
   * const { x509, jwt } = source.snapshot();
   * ```
   */
  snapshot(): BundleSourceSnapshot {
    return this.#open();
  }

  /**
   * Calls `listener` after every change of either set; returns the unsubscribe function.
   *
   * @example
   * ```ts
   * const off = source.onUpdate(({ x509 }) => reloadTrust(x509));
   * ```
   */
  onUpdate(listener: (snapshot: BundleSourceSnapshot) => void): () => void {
    return this.#listeners.add(listener);
  }

  /**
   * The same changes as an async iterable; ends when the source closes or `signal` aborts.
   *
   * @example
   * ```ts
   * for await (const { x509 } of source.updates({ signal })) reloadTrust(x509);
   * ```
   */
  updates(options: { signal?: AbortSignal } = {}): AsyncIterable<BundleSourceSnapshot> {
    return this.#listeners.iterate(options.signal);
  }

  /**
   * The combined health of both watches (the worse state wins).
   *
   * @example
   * ```ts
   * source.status().state;
   * ```
   */
  status(): SourceStatus {
    const combined = combineStatus([this.#x509.status(), this.#jwt.status()]);
    return this.#closed === undefined ? combined : { ...combined, state: 'closed' };
  }

  /**
   * Stops both watches and closes the client it owns. Idempotent.
   *
   * @example
   * ```ts
   * await source.close();
   * ```
   */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      this.#listeners.close();
      await Promise.all([this.#x509.stop(), this.#jwt.stop()]);
      if (this.#ownsClient) await this.#x509.client.close();
    })();
    return this.#closed;
  }

  /**
   * Same as `close()`.
   *
   * @example
   * ```ts
   * await using source = await BundleSource.create();
   * ```
   */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #open(): BundleSourceSnapshot {
    if (this.#closed !== undefined) throw new ClosedError('BundleSource is closed');
    return this.#view;
  }

  #compute(): BundleSourceSnapshot {
    return Object.freeze({
      x509: this.#x509.value ?? EMPTY_X509,
      jwt: this.#jwt.value ?? EMPTY_JWT,
      updatedAt: new Date(),
    });
  }
}
