import { X509BundleSet } from '../bundle/x509-bundle-set.js';
import type { X509BundleSource } from '../bundle/source.js';
import type { X509Bundle } from '../bundle/x509-bundle.js';
import {
  ClosedError,
  InvalidArgumentError,
  NoIdentityError,
  type NoIdentityReason,
} from '../errors.js';
import type { TrustDomain } from '../spiffeid/index.js';
import type { X509SvidSource } from '../svid/x509-svid-source.js';
import type { X509Svid } from '../svid/x509-svid.js';
import { resolveEndpointAddress } from './address.js';
import type { WorkloadApiClient, WorkloadApiClientOptions } from './client.js';
import type { SourceStatus } from './source-status.js';
import {
  checkTimeout,
  clientFor,
  StreamWatcher,
  UpdateListeners,
  waitUntilReady,
} from './stream-watcher.js';
import type { X509Context } from './x509-context.js';

/**
 * Chooses the SVID an {@link X509Source} hands out from the workload's SVIDs (default: the first,
 * the Workload API's default identity). Returning `undefined` means "none of them".
 *
 * @example
 * ```ts
 * const byHint: X509SvidPicker = (svids) => svids.find((s) => s.hint === 'internal');
 * ```
 */
export type X509SvidPicker = (svids: readonly X509Svid[]) => X509Svid | undefined;

/**
 * Options of {@link X509Source.create}. Give either `client` (shared, not closed by the source) or
 * the options of a client the source creates and owns (`address`, `backoff`, `onEvent`, …).
 *
 * @example
 * ```ts
 * const options: X509SourceOptions = {
 *   address: 'unix:///run/spire/agent.sock',
 *   picker: (svids) => svids.find((s) => s.hint === 'internal'),
 *   timeout: 30_000,
 * };
 * ```
 */
export interface X509SourceOptions extends WorkloadApiClientOptions {
  /** Use this client (it stays open when the source closes). */
  readonly client?: WorkloadApiClient;
  /** Chooses the SVID to hand out; default: the first (the default identity). */
  readonly picker?: X509SvidPicker;
  /** Aborts `create()` (not the source once created). */
  readonly signal?: AbortSignal;
  /**
   * How long `create()` waits for the first update, in milliseconds; then it fails with
   * {@link SourceTimeoutError} carrying the last error (e.g. `PermissionDenied: no identity
   * issued` while a registration propagates). Default: wait until `signal` aborts.
   */
  readonly timeout?: number;
}

/**
 * One consistent view of an {@link X509Source}: the SVID and the bundles of the same update.
 *
 * @example
 * ```ts
 * const { svid, bundles } = source.snapshot();
 * ```
 */
export interface X509SourceSnapshot {
  /** The SVID the source hands out, or `undefined` when it has none (see `noIdentity`). */
  readonly svid: X509Svid | undefined;
  /** Every trusted X.509 bundle (empty after a withdrawal). */
  readonly bundles: X509BundleSet;
  /** The whole update the snapshot comes from, or `undefined` after a withdrawal. */
  readonly context: X509Context | undefined;
  /** Why `svid` is `undefined`. */
  readonly noIdentity: NoIdentityReason | undefined;
  /** When this snapshot was made. */
  readonly updatedAt: Date;
}

interface Core {
  readonly watcher: StreamWatcher<'FetchX509SVID'>;
  readonly ownsClient: boolean;
}

async function closeCore(core: Core): Promise<void> {
  await core.watcher.stop();
  if (core.ownsClient) await core.watcher.client.close();
}

interface SharedEntry {
  readonly core: Core;
  refs: number;
}

// Process-wide sources by endpoint address, for X509Source.shared().
const shared = new Map<string, SharedEntry>();

const EMPTY_BUNDLES = new X509BundleSet();

function sameSvid(a: X509Svid | undefined, b: X509Svid | undefined): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined) return false;
  return (
    a.hint === b.hint &&
    a.certificates.length === b.certificates.length &&
    a.certificates.every((c, i) => b.certificates[i]?.raw.equals(c.raw) === true)
  );
}

/**
 * The workload's X509-SVID and trusted X.509 bundles, kept up to date by a `FetchX509SVID` watch
 * (go-spiffe's `workloadapi.X509Source`). Getters are synchronous and return immutable snapshots,
 * so TLS callbacks can use them; every rotation is visible as soon as the agent pushes it.
 *
 * - Responses that break the standard are ignored; the last good material stays (§4.5).
 * - When the agent answers `PermissionDenied`, the identity is withdrawn (§5.2.1):
 *   {@link X509Source.getX509Svid} throws {@link NoIdentityError} and no bundle is trusted until
 *   the agent issues an identity again.
 * - Listeners ({@link X509Source.onUpdate}, {@link X509Source.updates}) run only when the SVID or
 *   the bundles actually changed.
 *
 * It satisfies the TLS layer's material-source contract (`getX509Svid`,
 * `getX509BundleForTrustDomain`, `getX509BundleSet`, `onUpdate`).
 *
 * @example
 * ```ts
 * import { X509Source } from 'spiffe-sdk/workloadapi';
 *
 * await using source = await X509Source.create({ timeout: 30_000 });
 * const svid = source.getX509Svid();
 * source.onUpdate(({ svid }) => console.log('rotated; now expires', svid?.expiresAt));
 * ```
 */
export class X509Source implements X509SvidSource, X509BundleSource, AsyncDisposable {
  readonly #core: Core;
  readonly #picker: X509SvidPicker | undefined;
  readonly #release: () => Promise<void>;
  readonly #listeners: UpdateListeners<X509SourceSnapshot>;
  readonly #unsubscribe: () => void;
  #view: X509SourceSnapshot;
  #closed: Promise<void> | undefined;

  private constructor(
    core: Core,
    picker: X509SvidPicker | undefined,
    release: () => Promise<void>,
  ) {
    this.#core = core;
    this.#picker = picker;
    this.#release = release;
    this.#listeners = new UpdateListeners(core.watcher.client);
    this.#view = this.#compute();
    this.#unsubscribe = core.watcher.subscribe(() => {
      this.#refresh();
    });
  }

  /**
   * Starts watching and resolves after the first update. Rejects with {@link SourceTimeoutError}
   * after `options.timeout`, with {@link WorkloadApiError} when the agent answers a status that
   * must not be retried (`InvalidArgument`), with {@link InvalidEndpointAddressError} for a bad
   * address, or with the signal's reason.
   *
   * @example
   * ```ts
   * const source = await X509Source.create({ address: 'unix:///run/spire/agent.sock', timeout: 10_000 });
   * ```
   */
  static async create(options: X509SourceOptions = {}): Promise<X509Source> {
    const timeout = checkTimeout(options.timeout, 'X509Source');
    const picker = checkPicker(options.picker);
    const { client, owned } = clientFor(options, 'X509Source');
    const core: Core = {
      watcher: new StreamWatcher(client, 'FetchX509SVID', (a, b) => a.equals(b)),
      ownsClient: owned,
    };
    core.watcher.start();
    try {
      await waitUntilReady([core.watcher], 'X509Source', { signal: options.signal, timeout });
    } catch (err) {
      await closeCore(core);
      throw err;
    }
    return new X509Source(core, picker, () => closeCore(core));
  }

  /**
   * A handle on the process-wide source of the endpoint (`options.address` or
   * `SPIFFE_ENDPOINT_SOCKET`): every caller with the same address shares ONE stream to the agent.
   * Each handle must be closed; the stream closes with the last one. The first caller's client
   * options (`backoff`, `onEvent`, …) configure the shared client; `picker`, `signal` and `timeout`
   * are per handle.
   *
   * @example
   * ```ts
   * // In every server and client of the process:
   * await using source = await X509Source.shared({ timeout: 30_000 });
   * ```
   */
  static async shared(options: Omit<X509SourceOptions, 'client'> = {}): Promise<X509Source> {
    if ((options as X509SourceOptions).client !== undefined) {
      throw new InvalidArgumentError('X509Source.shared: "client" is not supported; use create()');
    }
    const timeout = checkTimeout(options.timeout, 'X509Source');
    const picker = checkPicker(options.picker);
    const key = resolveEndpointAddress(options.address).grpcTarget;
    let entry = shared.get(key);
    if (entry?.core.watcher.status().state === 'failed') {
      // Its watch ended for good (InvalidArgument): new callers get a fresh one; the handles
      // that hold the old entry keep it until they close.
      shared.delete(key);
      entry = undefined;
    }
    if (entry === undefined) {
      const { client } = clientFor(options, 'X509Source');
      const core: Core = {
        watcher: new StreamWatcher(client, 'FetchX509SVID', (a, b) => a.equals(b)),
        ownsClient: true,
      };
      core.watcher.start();
      entry = { core, refs: 0 };
      shared.set(key, entry);
    }
    const held = entry;
    held.refs++;
    let released = false;
    const release = async (): Promise<void> => {
      if (released) return;
      released = true;
      held.refs--;
      if (held.refs === 0) {
        if (shared.get(key) === held) shared.delete(key);
        await closeCore(held.core);
      }
    };
    try {
      await waitUntilReady([held.core.watcher], 'X509Source', { signal: options.signal, timeout });
    } catch (err) {
      await release();
      throw err;
    }
    return new X509Source(held.core, picker, release);
  }

  /**
   * The current X509-SVID. Throws {@link NoIdentityError} when the agent withdrew the identity
   * (or the picker chose none), {@link ClosedError} after `close()`.
   *
   * @example
   * ```ts
   * const { certificates, privateKey } = source.getX509Svid().marshal();
   * ```
   */
  getX509Svid(): X509Svid {
    const view = this.#open();
    if (view.svid === undefined) {
      const reason = view.noIdentity ?? 'withdrawn';
      const lastError = this.#core.watcher.withdrawnBy;
      throw new NoIdentityError(
        reason,
        reason === 'withdrawn'
          ? `X509Source has no X509-SVID: the Workload API withdrew the identity${lastError === undefined ? '' : ` (${lastError.message})`}`
          : 'X509Source has no X509-SVID: the picker chose none of the SVIDs',
        lastError,
      );
    }
    return view.svid;
  }

  /**
   * The X.509 bundle of `trustDomain`. Throws {@link BundleNotFoundError} when the trust domain is
   * not trusted (never was, was removed by the agent, or the identity was withdrawn), and
   * {@link ClosedError} after `close()`.
   *
   * @example
   * ```ts
   * const bundle = source.getX509BundleForTrustDomain(TrustDomain.parse('partner.org'));
   * ```
   */
  getX509BundleForTrustDomain(trustDomain: TrustDomain): X509Bundle {
    return this.#open().bundles.getX509BundleForTrustDomain(trustDomain);
  }

  /**
   * Every trusted X.509 bundle (own and federated trust domains), as one immutable set.
   *
   * @example
   * ```ts
   * const names = source.getX509BundleSet().bundles().map((b) => b.trustDomain.name);
   * ```
   */
  getX509BundleSet(): X509BundleSet {
    return this.#open().bundles;
  }

  /**
   * The SVID and bundles of the same update, as one immutable value.
   *
   * @example
   * ```ts
   * const { svid, bundles, updatedAt } = source.snapshot();
   * ```
   */
  snapshot(): X509SourceSnapshot {
    return this.#open();
  }

  /**
   * Calls `listener` after every change of the SVID or the bundles (including a withdrawal), with
   * the new snapshot; never for an update that changed nothing. Returns the unsubscribe function.
   * A listener that throws is reported to the client's `onEvent` hook and does not stop others.
   *
   * @example
   * ```ts
   * const off = source.onUpdate((s) => server.setSecureContext(contextFrom(s)));
   * // later: off();
   * ```
   */
  onUpdate(listener: (snapshot: X509SourceSnapshot) => void): () => void {
    return this.#listeners.add(listener);
  }

  /**
   * The same changes as an async iterable (only the latest is kept for a slow consumer). Ends when
   * the source closes or `options.signal` aborts.
   *
   * @example
   * ```ts
   * for await (const { svid } of source.updates({ signal })) console.log('now', svid?.id.toString());
   * ```
   */
  updates(options: { signal?: AbortSignal } = {}): AsyncIterable<X509SourceSnapshot> {
    return this.#listeners.iterate(options.signal);
  }

  /**
   * Health for checks and metrics: state, last update, last error.
   *
   * @example
   * ```ts
   * if (source.status().state !== 'ready') log.warn(source.status().lastError?.message);
   * ```
   */
  status(): SourceStatus {
    if (this.#closed !== undefined) return { ...this.#core.watcher.status(), state: 'closed' };
    return this.#core.watcher.status();
  }

  /**
   * Stops the source (its stream, unless shared with other handles, and its own client).
   * Idempotent; afterwards getters throw {@link ClosedError} and the process can exit.
   *
   * @example
   * ```ts
   * await source.close();
   * ```
   */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      this.#unsubscribe();
      this.#listeners.close();
      await this.#release();
    })();
    return this.#closed;
  }

  /**
   * Same as `close()`, for `await using source = await X509Source.create()`.
   *
   * @example
   * ```ts
   * {
   *   await using source = await X509Source.create();
   * } // closed here
   * ```
   */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #open(): X509SourceSnapshot {
    if (this.#closed !== undefined) throw new ClosedError('X509Source is closed');
    return this.#view;
  }

  #compute(): X509SourceSnapshot {
    const context = this.#core.watcher.value;
    const updatedAt = new Date();
    if (context === undefined) {
      return Object.freeze({
        svid: undefined,
        bundles: EMPTY_BUNDLES,
        context: undefined,
        noIdentity: 'withdrawn',
        updatedAt,
      });
    }
    let svid: X509Svid | undefined;
    if (this.#picker === undefined) svid = context.defaultSvid;
    else {
      try {
        svid = this.#picker(context.svids);
      } catch (error) {
        this.#core.watcher.client.emit({ type: 'listener-failed', error });
        svid = undefined;
      }
    }
    return Object.freeze({
      svid,
      bundles: context.bundles,
      context,
      noIdentity: svid === undefined ? 'not-picked' : undefined,
      updatedAt,
    });
  }

  #refresh(): void {
    const previous = this.#view;
    const next = this.#compute();
    this.#view = next;
    if (
      sameSvid(previous.svid, next.svid) &&
      previous.noIdentity === next.noIdentity &&
      previous.bundles.equals(next.bundles)
    ) {
      return; // e.g. only an SVID this handle's picker does not choose changed
    }
    this.#listeners.emit(next);
  }
}

function checkPicker(picker: unknown): X509SvidPicker | undefined {
  if (picker !== undefined && typeof picker !== 'function') {
    throw new InvalidArgumentError('X509Source: "picker" must be a function');
  }
  return picker as X509SvidPicker | undefined;
}
