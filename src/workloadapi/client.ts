import {
  credentials,
  Metadata,
  type ChannelOptions,
  type ClientReadableStream,
  type ClientUnaryCall,
  type ServiceError,
  type StatusObject,
} from '@grpc/grpc-js';
import type { JwtBundleSet, X509BundleSet } from '../bundle/index.js';
import {
  ClosedError,
  InvalidArgumentError,
  InvalidWorkloadApiResponseError,
  SpiffeError,
  WorkloadApiError,
} from '../errors.js';
import { SpiffeId } from '../spiffeid/index.js';
import type { JwtSvid } from '../svid/jwt-svid.js';
import type { JwtSvidParams } from '../svid/jwt-svid-source.js';
import type { X509Svid } from '../svid/x509-svid.js';
import { resolveEndpointAddress, type EndpointAddress } from './address.js';
import { exponentialBackoff, type BackoffStrategy } from './backoff.js';
import { abortReason, asError, linkSignals, pause } from './signals.js';
import type { WorkloadApiEvent, WorkloadApiRpc } from './events.js';
import {
  SpiffeWorkloadAPIClient,
  type JWTBundlesResponse,
  type JWTSVIDResponse,
  type ValidateJWTSVIDResponse,
  type X509BundlesResponse,
  type X509SVIDResponse,
} from './gen/workload.js';
import {
  parseJwtBundlesResponse,
  parseJwtSvidResponse,
  parseValidateJwtSvidResponse,
  parseX509BundlesResponse,
  parseX509SvidResponse,
  ParseCache,
} from './responses.js';
import {
  CANCELLED,
  grpcStatusName,
  INVALID_ARGUMENT,
  OK,
  PERMISSION_DENIED,
  UNIMPLEMENTED,
} from './status.js';
import type { X509Context } from './x509-context.js';

/** The security header every Workload API call carries (Workload Endpoint §3). */
const HEADER = 'workload.spiffe.io';

/**
 * Options of {@link WorkloadApiClient}.
 *
 * @example
 * ```ts
 * const options: WorkloadApiClientOptions = {
 *   address: 'unix:///run/spire/agent.sock',
 *   backoff: exponentialBackoff({ maxDelayMs: 10_000 }),
 *   onEvent: (e) => metrics.count(`workloadapi.${e.type}`),
 * };
 * ```
 */
export interface WorkloadApiClientOptions {
  /**
   * The endpoint address (`unix:///path`, `unix:/path`, `tcp://IP:port`, or `npipe:name` on
   * Windows). Default: the `SPIFFE_ENDPOINT_SOCKET` environment variable.
   */
  readonly address?: string;
  /** How watches wait between reconnection attempts. Default: {@link exponentialBackoff}(). */
  readonly backoff?: BackoffStrategy;
  /** Called for every stream, update, rejection and failure (see {@link WorkloadApiEvent}). */
  readonly onEvent?: (event: WorkloadApiEvent) => void;
  /**
   * Extra `@grpc/grpc-js` channel options (go-spiffe's `WithDialOptions`), merged over the
   * client's defaults.
   */
  readonly grpcChannelOptions?: ChannelOptions;
}

/**
 * Per-call options: every method takes an `AbortSignal`.
 *
 * @example
 * ```ts
 * await client.fetchX509Svid({ signal: AbortSignal.timeout(5_000) });
 * ```
 */
export interface CallOptions {
  /** Cancels the call; the promise rejects with the signal's reason. */
  readonly signal?: AbortSignal;
}

/**
 * Options of the `watch…` methods.
 *
 * @example
 * ```ts
 * for await (const context of client.watchX509Context({ signal, onError: (e) => log.warn(e.message) })) {
 *   reload(context);
 * }
 * ```
 */
export interface WatchOptions extends CallOptions {
  /**
   * Called for every stream failure (the watch reconnects with backoff) and every discarded
   * response. A `WorkloadApiError` with `grpcStatus` `PermissionDenied` means the agent withdrew
   * the workload's identity: stop using what this watch delivered until the next update.
   */
  readonly onError?: (error: WorkloadApiError | InvalidWorkloadApiResponseError) => void;
}

/** What the watch loop tells the caller (the sources and the async iterators). */
export interface WatchCallbacks<T> {
  onUpdate(value: T): void;
  onRejected(error: InvalidWorkloadApiResponseError): void;
  /** A stream ended; it is retried after `retryInMs` (undefined: not retried, the watch ends). */
  onFailure(error: WorkloadApiError, retryInMs: number | undefined): void;
}

/** The three streaming RPCs. */
export type WatchKind = 'FetchX509SVID' | 'FetchX509Bundles' | 'FetchJWTBundles';

interface WatchSpec<R, T> {
  open(grpc: SpiffeWorkloadAPIClient, metadata: Metadata): ClientReadableStream<R>;
  parse(response: R, cache?: ParseCache): T;
}

const SPECS: {
  FetchX509SVID: WatchSpec<X509SVIDResponse, X509Context>;
  FetchX509Bundles: WatchSpec<X509BundlesResponse, X509BundleSet>;
  FetchJWTBundles: WatchSpec<JWTBundlesResponse, JwtBundleSet>;
} = {
  FetchX509SVID: {
    open: (grpc, md) => grpc.fetchX509Svid({}, md),
    parse: parseX509SvidResponse,
  },
  FetchX509Bundles: {
    open: (grpc, md) => grpc.fetchX509Bundles({}, md),
    parse: parseX509BundlesResponse,
  },
  FetchJWTBundles: {
    open: (grpc, md) => grpc.fetchJwtBundles({}, md),
    parse: parseJwtBundlesResponse,
  },
};

/** What each watch kind delivers. */
export interface WatchValues {
  FetchX509SVID: X509Context;
  FetchX509Bundles: X509BundleSet;
  FetchJWTBundles: JwtBundleSet;
}

function securityHeader(): Metadata {
  const metadata = new Metadata();
  metadata.set(HEADER, 'true');
  return metadata;
}

function toWorkloadApiError(
  method: WorkloadApiRpc,
  status: StatusObject | ServiceError,
): WorkloadApiError {
  const code = codeOf(status);
  return new WorkloadApiError(method, code, grpcStatusName(code), status.details);
}

/** The status code as a plain number (grpc-js types it as its own enum). */
function codeOf(status: StatusObject | ServiceError): number {
  return status.code;
}

function checkAudience(value: unknown, what: string): string {
  if (typeof value !== 'string' || value === '') {
    throw new InvalidArgumentError(`${what} must be a non-empty string`);
  }
  return value;
}

/** Reads `signal.aborted` afresh (TypeScript keeps a loop condition's narrowing across awaits). */
function isAborted(signal: AbortSignal): boolean {
  return signal.aborted;
}

/** The audience list a JWT-SVID request sends: `audience` then `extraAudiences`. */
export function audienceOf(params: JwtSvidParams): string[] {
  if (typeof params !== 'object') {
    throw new InvalidArgumentError('JWT-SVID parameters must be an object with an "audience"');
  }
  const audience = [checkAudience(params.audience, 'the JWT-SVID audience')];
  for (const extra of params.extraAudiences ?? []) {
    audience.push(checkAudience(extra, 'every extra JWT-SVID audience'));
  }
  if (params.subject !== undefined && !(params.subject instanceof SpiffeId)) {
    throw new InvalidArgumentError('the JWT-SVID subject must be a SpiffeId');
  }
  return audience;
}

/**
 * A client of the SPIFFE Workload API (go-spiffe's `workloadapi.Client`): one gRPC channel to the
 * agent, every call carrying the `workload.spiffe.io: true` header.
 *
 * - One-shot methods (`fetch…`, `validateJwtSvid`) make one call and reject with
 *   {@link WorkloadApiError} (the gRPC status) or {@link InvalidWorkloadApiResponseError} (a
 *   response that breaks the standard); they do not retry.
 * - `watch…` methods are async iterables of complete updates. They reconnect with backoff when a
 *   stream ends or the agent is unavailable or restarts, retry `PermissionDenied` (reporting it to
 *   `onError`, because it withdraws the identity), skip responses that break the standard, and end
 *   with an error only for `InvalidArgument` or `Unimplemented`, which must not be retried. A slow
 *   consumer sees only the latest update.
 *
 * For long-running use prefer the sources ({@link X509Source}, {@link JwtSource},
 * {@link BundleSource}), which keep the latest material and report their health.
 *
 * @example
 * ```ts
 * import { WorkloadApiClient } from 'spiffe-sdk/workloadapi';
 *
 * await using client = new WorkloadApiClient(); // SPIFFE_ENDPOINT_SOCKET
 * const svid = await client.fetchX509Svid();
 * console.log(svid.id.toString());
 * ```
 */
export class WorkloadApiClient implements AsyncDisposable {
  /** The endpoint this client talks to. */
  readonly endpoint: EndpointAddress;
  readonly #grpc: SpiffeWorkloadAPIClient;
  readonly #backoff: BackoffStrategy;
  readonly #onEvent: ((event: WorkloadApiEvent) => void) | undefined;
  readonly #closing = new AbortController();
  #closed: Promise<void> | undefined;
  readonly #running = new Set<Promise<unknown>>();

  /**
   * Creates a client. Nothing is dialled yet: an agent that is not there shows up as
   * `Unavailable` on the first call. Throws {@link InvalidEndpointAddressError} when the address
   * (or `SPIFFE_ENDPOINT_SOCKET`) is missing or breaks Workload Endpoint §4.
   *
   * @example
   * ```ts
   * const client = new WorkloadApiClient({ address: 'unix:///run/spire/agent.sock' });
   * ```
   */
  constructor(options: WorkloadApiClientOptions = {}) {
    this.endpoint = resolveEndpointAddress(options.address);
    this.#backoff = options.backoff ?? exponentialBackoff();
    this.#onEvent = options.onEvent;
    this.#grpc = new SpiffeWorkloadAPIClient(
      this.endpoint.grpcTarget,
      credentials.createInsecure(),
      {
        // The watches pace reconnection themselves; keep gRPC's own connection backoff short so a
        // restarted agent is reached on the next attempt rather than after minutes of channel backoff.
        'grpc.initial_reconnect_backoff_ms': 100,
        'grpc.max_reconnect_backoff_ms': 1000,
        'grpc.enable_channelz': 0,
        ...options.grpcChannelOptions,
      },
    );
  }

  /**
   * Whether {@link WorkloadApiClient.close} was called.
   *
   * @example
   * ```ts
   * if (!client.closed) await client.fetchX509Svid();
   * ```
   */
  get closed(): boolean {
    return this.#closed !== undefined;
  }

  /**
   * The default X509-SVID: the first of the response (Workload API §8).
   *
   * @example
   * ```ts
   * const svid = await client.fetchX509Svid();
   * ```
   */
  async fetchX509Svid(options: CallOptions = {}): Promise<X509Svid> {
    return (await this.fetchX509Context(options)).defaultSvid;
  }

  /**
   * Every X509-SVID of the workload, default first (of SVIDs sharing a non-empty hint only the
   * first).
   *
   * @example
   * ```ts
   * const svids = await client.fetchX509Svids();
   * const external = svids.find((s) => s.hint === 'external');
   * ```
   */
  async fetchX509Svids(options: CallOptions = {}): Promise<readonly X509Svid[]> {
    return (await this.fetchX509Context(options)).svids;
  }

  /**
   * The X509-SVIDs and the X.509 bundles (own and federated trust domains) of one
   * `FetchX509SVID` response.
   *
   * @example
   * ```ts
   * const { svids, bundles } = await client.fetchX509Context();
   * ```
   */
  fetchX509Context(options: CallOptions = {}): Promise<X509Context> {
    return this.#first('FetchX509SVID', options);
  }

  /**
   * The X.509 bundles the workload trusts (`FetchX509Bundles`); needs no X509-SVID.
   *
   * @example
   * ```ts
   * const bundles = await client.fetchX509Bundles();
   * bundles.getX509BundleForTrustDomain(TrustDomain.parse('example.org'));
   * ```
   */
  fetchX509Bundles(options: CallOptions = {}): Promise<X509BundleSet> {
    return this.#first('FetchX509Bundles', options);
  }

  /**
   * The JWT bundles the workload trusts (`FetchJWTBundles`).
   *
   * @example
   * ```ts
   * const bundles = await client.fetchJwtBundles();
   * await parseAndValidateJwtSvid(token, bundles, 'spiffe://example.org/api');
   * ```
   */
  fetchJwtBundles(options: CallOptions = {}): Promise<JwtBundleSet> {
    return this.#first('FetchJWTBundles', options);
  }

  /**
   * Watches `FetchX509SVID`: yields an {@link X509Context} for every change.
   *
   * @example
   * ```ts
   * const controller = new AbortController();
   * for await (const context of client.watchX509Context({ signal: controller.signal })) {
   *   console.log('now', context.defaultSvid.id.toString(), 'expires', context.defaultSvid.expiresAt);
   * }
   * ```
   */
  watchX509Context(options: WatchOptions = {}): AsyncIterable<X509Context> {
    return this.#iterate('FetchX509SVID', options);
  }

  /**
   * Watches `FetchX509Bundles`: yields the complete set of trusted X.509 bundles on every change;
   * a trust domain missing from an update is no longer trusted.
   *
   * @example
   * ```ts
   * for await (const bundles of client.watchX509Bundles({ signal })) {
   *   console.log(bundles.bundles().map((b) => b.trustDomain.name));
   * }
   * ```
   */
  watchX509Bundles(options: WatchOptions = {}): AsyncIterable<X509BundleSet> {
    return this.#iterate('FetchX509Bundles', options);
  }

  /**
   * Watches `FetchJWTBundles`: yields the complete set of JWT bundles on every change.
   *
   * @example
   * ```ts
   * for await (const bundles of client.watchJwtBundles({ signal })) current = bundles;
   * ```
   */
  watchJwtBundles(options: WatchOptions = {}): AsyncIterable<JwtBundleSet> {
    return this.#iterate('FetchJWTBundles', options);
  }

  /**
   * A JWT-SVID for `params.audience` (plus `extraAudiences`): the default identity's, or
   * `params.subject`'s. The token is checked (claims, every requested audience present, subject)
   * but its signature is not: it comes from the local agent.
   *
   * @example
   * ```ts
   * const svid = await client.fetchJwtSvid({ audience: 'spiffe://example.org/reports' });
   * headers.set('authorization', `Bearer ${svid.marshal()}`);
   * ```
   */
  async fetchJwtSvid(params: JwtSvidParams, options: CallOptions = {}): Promise<JwtSvid> {
    const [first] = await this.fetchJwtSvids(params, options);
    // The response parser refuses an empty list, so there is always a first SVID.
    if (first === undefined) throw new InvalidWorkloadApiResponseError('FetchJWTSVID', 'no SVID');
    return first;
  }

  /**
   * JWT-SVIDs for `params.audience` for every identity of the workload (or only
   * `params.subject`'s), default first.
   *
   * @example
   * ```ts
   * const svids = await client.fetchJwtSvids({ audience: 'spiffe://example.org/reports' });
   * ```
   */
  async fetchJwtSvids(
    params: JwtSvidParams,
    options: CallOptions = {},
  ): Promise<readonly JwtSvid[]> {
    const audience = audienceOf(params);
    const subject = params.subject;
    const response = await this.#unary<JWTSVIDResponse>('FetchJWTSVID', options, (md, cb) =>
      this.#grpc.fetchJwtsvid({ audience, spiffeId: subject?.toString() ?? '' }, md, cb),
    );
    return this.#checked('FetchJWTSVID', () =>
      parseJwtSvidResponse(response, audience, subject, () => new Date()),
    );
  }

  /**
   * Has the agent validate a JWT-SVID for `audience` (`ValidateJWTSVID`), then parses it locally.
   * Rejects with {@link WorkloadApiError} (`InvalidArgument`) when the agent refuses the token.
   *
   * @example
   * ```ts
   * const caller = await client.validateJwtSvid(token, 'spiffe://example.org/reports');
   * authorize(caller.id);
   * ```
   */
  async validateJwtSvid(
    token: string,
    audience: string,
    options: CallOptions = {},
  ): Promise<JwtSvid> {
    if (typeof token !== 'string' || token === '') {
      throw new InvalidArgumentError('the token to validate must be a non-empty string');
    }
    checkAudience(audience, 'the audience');
    const response = await this.#unary<ValidateJWTSVIDResponse>(
      'ValidateJWTSVID',
      options,
      (md, cb) => this.#grpc.validateJwtsvid({ audience, svid: token }, md, cb),
    );
    return this.#checked('ValidateJWTSVID', () =>
      parseValidateJwtSvidResponse(response, token, audience, () => new Date()),
    );
  }

  /**
   * Cancels every call and watch (watches end, pending calls reject with {@link ClosedError}) and
   * closes the channel. Idempotent; afterwards the process can exit.
   *
   * @example
   * ```ts
   * await client.close();
   * ```
   */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      this.#closing.abort(new ClosedError('the Workload API client is closed'));
      await Promise.allSettled([...this.#running]);
      this.#grpc.close();
    })();
    return this.#closed;
  }

  /**
   * Same as `close()`, for `await using client = new WorkloadApiClient()`.
   *
   * @example
   * ```ts
   * {
   *   await using client = new WorkloadApiClient();
   *   await client.fetchX509Svid();
   * } // closed here
   * ```
   */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /**
   * @internal Runs a watch until `signal` aborts or the client closes (resolves), or a status that
   * must not be retried arrives (rejects with that {@link WorkloadApiError}).
   */
  watchInternal<K extends WatchKind>(
    kind: K,
    callbacks: WatchCallbacks<WatchValues[K]>,
    signal?: AbortSignal,
  ): Promise<void> {
    const run = this.#watch(kind, callbacks, signal);
    this.#track(run);
    return run;
  }

  /** @internal Reports an event to the `onEvent` hook; a throwing hook is ignored. */
  emit(event: WorkloadApiEvent): void {
    if (this.#onEvent === undefined) return;
    try {
      this.#onEvent(event);
    } catch {
      // A logging hook must not break the Workload API client.
    }
  }

  #track(promise: Promise<unknown>): void {
    this.#running.add(promise);
    const forget = (): void => {
      this.#running.delete(promise);
    };
    promise.then(forget, forget);
  }

  /**
   * A signal that aborts when `signal` or the client's close does, and a function that detaches
   * it (so long-lived signals do not collect listeners; `AbortSignal.any` leaks on Node 20).
   */
  #link(signal: AbortSignal | undefined): { signal: AbortSignal; release: () => void } {
    return linkSignals(signal, this.#closing.signal);
  }

  #rejectIfClosed(): void {
    if (this.#closed !== undefined) throw new ClosedError('the Workload API client is closed');
  }

  async #checked<T>(method: WorkloadApiRpc, parse: () => Promise<T>): Promise<T> {
    try {
      return await parse();
    } catch (err) {
      if (err instanceof SpiffeError) this.emit({ type: 'call-failed', method, error: err });
      throw err;
    }
  }

  /** Opens a stream, returns its first response checked, and cancels the stream. */
  #first<K extends WatchKind>(kind: K, options: CallOptions): Promise<WatchValues[K]> {
    this.#rejectIfClosed();
    const spec = SPECS[kind] as unknown as WatchSpec<unknown, WatchValues[K]>;
    const { signal, release } = this.#link(options.signal);
    const result = new Promise<WatchValues[K]>((resolve, reject) => {
      if (signal.aborted) {
        reject(abortReason(signal));
        return;
      }
      const call = spec.open(this.#grpc, securityHeader());
      let settled = false;
      const settle = (fn: () => void): void => {
        if (settled) return;
        settled = true;
        signal.removeEventListener('abort', onAbort);
        call.cancel();
        fn();
      };
      const onAbort = (): void => {
        settle(() => {
          reject(abortReason(signal));
        });
      };
      signal.addEventListener('abort', onAbort, { once: true });
      call.on('data', (response: unknown) => {
        settle(() => {
          try {
            resolve(spec.parse(response));
          } catch (err) {
            if (err instanceof InvalidWorkloadApiResponseError) {
              this.emit({ type: 'call-failed', method: kind, error: err });
            }
            reject(asError(err));
          }
        });
      });
      call.on('error', () => {
        // The 'status' event carries the same information.
      });
      call.on('status', (status: StatusObject) => {
        settle(() => {
          const error =
            codeOf(status) === OK
              ? new WorkloadApiError(kind, OK, 'OK', 'the stream ended before the first response')
              : toWorkloadApiError(kind, status);
          this.emit({ type: 'call-failed', method: kind, error });
          reject(error);
        });
      });
    });
    result.then(release, release);
    this.#track(result);
    return result;
  }

  #unary<R>(
    method: WorkloadApiRpc,
    options: CallOptions,
    start: (
      metadata: Metadata,
      callback: (error: ServiceError | null, response: R) => void,
    ) => ClientUnaryCall,
  ): Promise<R> {
    this.#rejectIfClosed();
    const { signal, release } = this.#link(options.signal);
    const result = new Promise<R>((resolve, reject) => {
      if (signal.aborted) {
        reject(abortReason(signal));
        return;
      }
      let settled = false;
      const onAbort = (): void => {
        if (settled) return;
        settled = true;
        call.cancel();
        reject(abortReason(signal));
      };
      const call = start(securityHeader(), (error, response) => {
        if (settled) return;
        settled = true;
        signal.removeEventListener('abort', onAbort);
        if (error === null) {
          resolve(response);
          return;
        }
        const failure = toWorkloadApiError(method, error);
        this.emit({ type: 'call-failed', method, error: failure });
        reject(failure);
      });
      signal.addEventListener('abort', onAbort, { once: true });
    });
    result.then(release, release);
    this.#track(result);
    return result;
  }

  async #watch<K extends WatchKind>(
    kind: K,
    callbacks: WatchCallbacks<WatchValues[K]>,
    userSignal: AbortSignal | undefined,
  ): Promise<void> {
    this.#rejectIfClosed();
    const spec = SPECS[kind] as unknown as WatchSpec<unknown, WatchValues[K]>;
    const { signal, release } = this.#link(userSignal);
    try {
      await this.#watchLoop(kind, spec, callbacks, signal);
    } finally {
      release();
    }
  }

  async #watchLoop<T>(
    kind: WatchKind,
    spec: WatchSpec<unknown, T>,
    callbacks: WatchCallbacks<T>,
    signal: AbortSignal,
  ): Promise<void> {
    const backoff = this.#backoff.newBackoff();
    const cache = new ParseCache();
    let attempt = 0;
    while (!signal.aborted) {
      attempt++;
      this.emit({ type: 'stream-opened', method: kind, attempt });
      const error = await this.#streamOnce(kind, spec, callbacks, signal, cache, () => {
        // Only a response that passed every check proves the agent healthy (a response that is
        // rejected, then the stream closed, must not make the watch reconnect at once forever).
        backoff.reset();
        attempt = 0;
      });
      if (isAborted(signal)) break;
      if (error.grpcCode === INVALID_ARGUMENT || error.grpcCode === UNIMPLEMENTED) {
        // Workload Endpoint §6 and its Appendix A: report, never retry.
        callbacks.onFailure(error, undefined);
        this.emit({ type: 'watch-stopped', method: kind, error });
        throw error;
      }
      const retryInMs = backoff.next();
      callbacks.onFailure(error, retryInMs);
      this.emit({
        type: 'stream-failed',
        method: kind,
        error,
        retryInMs,
        identityWithdrawn: error.grpcCode === PERMISSION_DENIED,
      });
      await pause(retryInMs, signal);
    }
    this.emit({ type: 'watch-stopped', method: kind, error: undefined });
  }

  /** One stream: delivers checked responses until it ends; returns how it ended. */
  #streamOnce<T>(
    kind: WatchKind,
    spec: WatchSpec<unknown, T>,
    callbacks: WatchCallbacks<T>,
    signal: AbortSignal,
    cache: ParseCache,
    onGood: () => void,
  ): Promise<WorkloadApiError> {
    return new Promise((resolve) => {
      const call = spec.open(this.#grpc, securityHeader());
      let status: StatusObject | undefined;
      let ended = false;
      const onAbort = (): void => {
        call.cancel();
      };
      const finish = (): void => {
        // Wait for both the status and the end of the message stream, so no response that
        // arrived before the status is lost.
        if (status === undefined || !ended) return;
        signal.removeEventListener('abort', onAbort);
        resolve(
          codeOf(status) === OK
            ? new WorkloadApiError(kind, OK, 'OK', 'the agent ended the stream')
            : codeOf(status) === CANCELLED && signal.aborted
              ? new WorkloadApiError(kind, CANCELLED, 'Cancelled', 'cancelled by the client')
              : toWorkloadApiError(kind, status),
        );
      };
      signal.addEventListener('abort', onAbort, { once: true });
      if (signal.aborted) call.cancel();
      call.on('data', (response: unknown) => {
        let value: T;
        try {
          value = spec.parse(response, cache);
        } catch (err) {
          const error =
            err instanceof InvalidWorkloadApiResponseError
              ? err
              : new InvalidWorkloadApiResponseError(kind, 'unexpected error', { cause: err });
          callbacks.onRejected(error);
          this.emit({ type: 'response-rejected', method: kind, error });
          return;
        }
        onGood();
        this.emit({ type: 'update-received', method: kind });
        try {
          callbacks.onUpdate(value);
        } catch (error) {
          // A consumer's bug must not tear down the stream (or surface as an uncaught exception).
          this.emit({ type: 'listener-failed', error });
        }
      });
      call.on('error', () => {
        // Reported through 'status'.
      });
      call.on('status', (s: StatusObject) => {
        status = s;
        finish();
      });
      const onEnd = (): void => {
        ended = true;
        finish();
      };
      call.on('end', onEnd);
      call.on('close', onEnd);
    });
  }

  #iterate<K extends WatchKind>(kind: K, options: WatchOptions): AsyncIterable<WatchValues[K]> {
    return {
      [Symbol.asyncIterator]: (): AsyncIterator<WatchValues[K]> => {
        const stop = new AbortController();
        const { signal, release } = linkSignals(options.signal, stop.signal);
        let latest: { value: WatchValues[K] } | undefined;
        let failure: { error: unknown } | undefined;
        let done = false;
        let wake: (() => void) | undefined;
        const notify = (): void => {
          const w = wake;
          wake = undefined;
          w?.();
        };
        const report = (error: WorkloadApiError | InvalidWorkloadApiResponseError): void => {
          try {
            options.onError?.(error);
          } catch {
            // The consumer's error hook must not break the watch.
          }
        };
        let run: Promise<void> | undefined;
        const start = (): Promise<void> =>
          (run ??= this.watchInternal(
            kind,
            {
              onUpdate: (value) => {
                latest = { value };
                notify();
              },
              onRejected: report,
              onFailure: report,
            },
            signal,
          ).then(
            () => {
              release();
              done = true;
              notify();
            },
            (error: unknown) => {
              release();
              failure = { error };
              done = true;
              notify();
            },
          ));
        return {
          next: async (): Promise<IteratorResult<WatchValues[K]>> => {
            void start();
            for (;;) {
              if (latest !== undefined) {
                const { value } = latest;
                latest = undefined;
                return { value, done: false };
              }
              if (failure !== undefined) {
                const { error } = failure;
                failure = undefined;
                throw error;
              }
              if (done) return { value: undefined, done: true };
              await new Promise<void>((resolve) => (wake = resolve));
            }
          },
          return: async (): Promise<IteratorResult<WatchValues[K]>> => {
            stop.abort();
            done = true;
            latest = undefined;
            if (run !== undefined) await run;
            return { value: undefined, done: true };
          },
        };
      },
    };
  }
}
