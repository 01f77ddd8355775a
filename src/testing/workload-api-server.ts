import { lstat, mkdtemp, rm, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  Server,
  ServerCredentials,
  status as GrpcStatus,
  type Metadata,
  type sendUnaryData,
  type ServerUnaryCall,
  type ServerWritableStream,
} from '@grpc/grpc-js';
import type { JwtBundle } from '../bundle/jwt-bundle.js';
import type { X509Bundle } from '../bundle/x509-bundle.js';
import { InvalidArgumentError, SpiffeError } from '../errors.js';
import { RecordWaiters } from './record-waiters.js';
import type { SpiffeId } from '../spiffeid/index.js';
import type { X509Svid } from '../svid/x509-svid.js';
import {
  SpiffeWorkloadAPIService,
  type JWTBundlesRequest,
  type JWTSVIDRequest,
  type SpiffeWorkloadAPIServer,
  type ValidateJWTSVIDRequest,
  type X509BundlesRequest,
  type X509SVIDRequest,
} from '../workloadapi/gen/workload.js';
import {
  jwtBundlesResponse,
  jwtSvidResponse,
  malform,
  messageOf,
  NO_IDENTITY,
  validateResponse,
  x509BundlesResponse,
  x509SvidResponse,
  type Result,
} from './workload-api-responses.js';
import {
  toGenJwtBundlesResponse,
  toGenJwtSvidResponse,
  toGenValidateJwtSvidResponse,
  toGenX509BundlesResponse,
  toGenX509SvidResponse,
  type WorkloadApiResponses,
} from './workload-api-wire.js';

/**
 * The five RPCs of the SPIFFE Workload API (X.509-SVID and JWT-SVID profiles), by their proto
 * names.
 *
 * @example
 * ```ts
 * const method: WorkloadApiMethod = 'FetchX509SVID';
 * server.failWith('Unavailable', { method });
 * ```
 */
export type WorkloadApiMethod =
  'FetchX509SVID' | 'FetchX509Bundles' | 'FetchJWTSVID' | 'FetchJWTBundles' | 'ValidateJWTSVID';

/**
 * A gRPC status code by name (the names of the SPIFFE Workload Endpoint standard's error table,
 * e.g. `PermissionDenied`).
 *
 * @example
 * ```ts
 * const status: WorkloadApiStatus = 'PermissionDenied';
 * server.failWith(status, { message: 'no identity issued' });
 * ```
 */
export type WorkloadApiStatus =
  | 'OK'
  | 'Cancelled'
  | 'Unknown'
  | 'InvalidArgument'
  | 'DeadlineExceeded'
  | 'NotFound'
  | 'AlreadyExists'
  | 'PermissionDenied'
  | 'ResourceExhausted'
  | 'FailedPrecondition'
  | 'Aborted'
  | 'OutOfRange'
  | 'Unimplemented'
  | 'Internal'
  | 'Unavailable'
  | 'DataLoss'
  | 'Unauthenticated';

const STATUS_CODES: Readonly<Record<WorkloadApiStatus, GrpcStatus>> = Object.freeze({
  OK: GrpcStatus.OK,
  Cancelled: GrpcStatus.CANCELLED,
  Unknown: GrpcStatus.UNKNOWN,
  InvalidArgument: GrpcStatus.INVALID_ARGUMENT,
  DeadlineExceeded: GrpcStatus.DEADLINE_EXCEEDED,
  NotFound: GrpcStatus.NOT_FOUND,
  AlreadyExists: GrpcStatus.ALREADY_EXISTS,
  PermissionDenied: GrpcStatus.PERMISSION_DENIED,
  ResourceExhausted: GrpcStatus.RESOURCE_EXHAUSTED,
  FailedPrecondition: GrpcStatus.FAILED_PRECONDITION,
  Aborted: GrpcStatus.ABORTED,
  OutOfRange: GrpcStatus.OUT_OF_RANGE,
  Unimplemented: GrpcStatus.UNIMPLEMENTED,
  Internal: GrpcStatus.INTERNAL,
  Unavailable: GrpcStatus.UNAVAILABLE,
  DataLoss: GrpcStatus.DATA_LOSS,
  Unauthenticated: GrpcStatus.UNAUTHENTICATED,
});

const METHODS: readonly WorkloadApiMethod[] = [
  'FetchX509SVID',
  'FetchX509Bundles',
  'FetchJWTSVID',
  'FetchJWTBundles',
  'ValidateJWTSVID',
];

/**
 * What mints JWT-SVIDs for {@link WorkloadApiServer}: `JwtAuthority` from `spiffe-sdk/testing` fits,
 * and so does anything with the same two methods.
 *
 * @example
 * ```ts
 * const authority = await JwtAuthority.create({ trustDomain: 'example.org' });
 * const minter: JwtSvidMinter = authority;
 * ```
 */
export interface JwtSvidMinter {
  /** Mints a token for `subject` with exactly the audience `audience`. */
  mint(params: { subject: SpiffeId; audience: string[] }): string | Promise<string>;
  /** The JWT bundle that validates the minted tokens. */
  jwtBundle(): JwtBundle;
}

/**
 * A JWT-SVID identity the server hands out from `FetchJWTSVID`.
 *
 * @example
 * ```ts
 * const spec: WorkloadApiJwtSvid = { id: 'spiffe://example.org/web', hint: 'internal' };
 * await server.updateIdentity({ jwtSvids: [spec] });
 * ```
 */
export interface WorkloadApiJwtSvid {
  /** The subject. */
  readonly id: SpiffeId | string;
  /** The hint sent with the token (default `''`). */
  readonly hint?: string | undefined;
  /**
   * A fixed token to send instead of minting one (sent as is, whatever audience was asked for):
   * for tests of how a client treats a wrong token.
   */
  readonly token?: string | undefined;
}

/**
 * Everything the server can hand one caller. Fields left out mean "none": a method whose
 * mandatory material is missing answers `PermissionDenied` (Workload API §5.2, §6.2), as an agent
 * does for a workload it has no registration for.
 *
 * | method | answers from | PermissionDenied when |
 * |---|---|---|
 * | `FetchX509SVID` | `x509Svids` (first = default), each with the bundle of its trust domain (looked up in `x509Bundle` and `federatedX509Bundles`), `federatedX509Bundles`, `crl` | `x509Svids` is empty |
 * | `FetchX509Bundles` | `x509Bundle` + `federatedX509Bundles`, `crl` | there is no X.509 bundle |
 * | `FetchJWTSVID` | `jwtSvids` (default: one per X509-SVID, same ID and hint, when a `jwtAuthority` is set), minted by `jwtAuthority` for the requested audience | no JWT identity (matches the requested `spiffe_id`) |
 * | `FetchJWTBundles` | `jwtBundle` (default: `jwtAuthority.jwtBundle()`) + `federatedJwtBundles` | there is no JWT bundle |
 * | `ValidateJWTSVID` | validates with `parseAndValidateJwtSvid` against the JWT bundles above | the resolver gave no identity |
 *
 * @example
 * ```ts
 * const ca = await TestCA.create({ trustDomain: 'example.org' });
 * const identity: WorkloadApiIdentity = {
 *   x509Svids: [await ca.issueX509Svid('spiffe://example.org/web')],
 *   x509Bundle: ca.x509Bundle(),
 * };
 * ```
 */
export interface WorkloadApiIdentity {
  /** The caller's X509-SVIDs; the first is the default identity. Hints are sent as set. */
  readonly x509Svids?: readonly X509Svid[] | undefined;
  /** The X.509 bundle of the caller's own trust domain. */
  readonly x509Bundle?: X509Bundle | undefined;
  /** X.509 bundles of foreign trust domains (`federated_bundles`, and part of `FetchX509Bundles`). */
  readonly federatedX509Bundles?: readonly X509Bundle[] | undefined;
  /** DER CRLs sent in the `crl` fields. */
  readonly crl?: readonly Uint8Array[] | undefined;
  /** Mints JWT-SVIDs for `FetchJWTSVID`. */
  readonly jwtAuthority?: JwtSvidMinter | undefined;
  /** JWT identities; by default one per X509-SVID when `jwtAuthority` is set. */
  readonly jwtSvids?: readonly WorkloadApiJwtSvid[] | undefined;
  /** The JWT bundle of the caller's own trust domain (default: `jwtAuthority.jwtBundle()`). */
  readonly jwtBundle?: JwtBundle | undefined;
  /** JWT bundles of foreign trust domains. */
  readonly federatedJwtBundles?: readonly JwtBundle[] | undefined;
}

/**
 * Who is calling: what an identity resolver gets to choose the caller's identity.
 *
 * @example
 * ```ts
 * const resolver = (caller: WorkloadApiCaller) =>
 *   caller.metadata['x-workload']?.[0] === 'db' ? dbIdentity : webIdentity;
 * ```
 */
export interface WorkloadApiCaller {
  /** The method called. */
  readonly method: WorkloadApiMethod;
  /** The call's metadata (binary `-bin` values as base64). */
  readonly metadata: Readonly<Record<string, readonly string[]>>;
  /** The peer address as gRPC reports it (e.g. `ipv4:127.0.0.1:53012`). */
  readonly peer: string;
}

/**
 * Chooses the identity of each call (for streams, again before every pushed update). Returning
 * `undefined` means the caller has no identity: every method answers `PermissionDenied`.
 *
 * @example
 * ```ts
 * server.setIdentityResolver((caller) => (caller.peer.startsWith('ipv4:') ? identity : undefined));
 * ```
 */
export type WorkloadApiIdentityResolver = (
  caller: WorkloadApiCaller,
) => WorkloadApiIdentity | undefined;

/**
 * Options of {@link WorkloadApiServer.create}.
 *
 * @example
 * ```ts
 * const server = await WorkloadApiServer.create({ transport: 'tcp', identity });
 * ```
 */
export interface WorkloadApiServerOptions {
  /** `unix` (default; `tcp` on Windows) or `tcp` (always 127.0.0.1). */
  readonly transport?: 'unix' | 'tcp';
  /** The unix socket path (default: `agent.sock` in a fresh temporary directory). */
  readonly socketPath?: string;
  /** The TCP port (default: any free port). */
  readonly port?: number;
  /** The identity served to every caller (default: none). */
  readonly identity?: WorkloadApiIdentity;
  /** Chooses the identity per call instead of `identity`. */
  readonly identityResolver?: WorkloadApiIdentityResolver;
}

/**
 * Which methods a fault applies to, and how many times.
 *
 * @example
 * ```ts
 * const scope: WorkloadApiFaultScope = { method: ['FetchX509SVID', 'FetchJWTBundles'], times: 2 };
 * server.failWith('Unavailable', scope);
 * ```
 */
export interface WorkloadApiFaultScope {
  /** The method(s) concerned (default: all). */
  readonly method?: WorkloadApiMethod | readonly WorkloadApiMethod[];
  /** Apply this many times, then forget the fault (default: until {@link WorkloadApiServer.clearFaults}). */
  readonly times?: number;
}

/**
 * A kind of malformed response (see {@link WorkloadApiServer.malformResponses}).
 *
 * | kind | effect |
 * |---|---|
 * | `empty-svids` | `svids` empty (`FetchX509SVID`, `FetchJWTSVID`) |
 * | `empty-spiffe-id` | every `spiffe_id` empty (SVID entries; `ValidateJWTSVID`) |
 * | `empty-x509-svid` | every `x509_svid` empty |
 * | `empty-key` | every `x509_svid_key` empty |
 * | `empty-bundle` | every bundle value empty: `X509SVID.bundle` and the values of `federated_bundles` / `bundles` |
 * | `no-bundles` | the `federated_bundles` / `bundles` maps empty |
 * | `bad-der` | `x509_svid`, `x509_svid_key` and every X.509 bundle value are bytes that are not DER |
 * | `bad-jwks` | every JWT bundle value is not JSON |
 * | `bad-bundle-key` | every bundle map key is not a trust-domain ID (`spiffe://Not Valid`) |
 * | `bad-token` | every JWT-SVID `svid` is not a JWT |
 *
 * @example
 * ```ts
 * const kind: WorkloadApiMalformation = 'empty-key';
 * server.malformResponses(kind, { method: 'FetchX509SVID', times: 1 });
 * ```
 */
export type WorkloadApiMalformation =
  | 'empty-svids'
  | 'empty-spiffe-id'
  | 'empty-x509-svid'
  | 'empty-key'
  | 'empty-bundle'
  | 'no-bundles'
  | 'bad-der'
  | 'bad-jwks'
  | 'bad-bundle-key'
  | 'bad-token';

/**
 * The fields every recorded call has; see {@link WorkloadApiCall}.
 *
 * @example
 * ```ts
 * const last: WorkloadApiCallBase | undefined = server.calls.at(-1);
 * console.log(last?.status, last?.responses);
 * ```
 */
export interface WorkloadApiCallBase {
  /** 1, 2, 3, … in arrival order. */
  readonly id: number;
  /** The call's metadata (binary `-bin` values as base64). */
  readonly metadata: Readonly<Record<string, readonly string[]>>;
  /** The peer address as gRPC reports it. */
  readonly peer: string;
  /** Messages sent so far (streams: one per update; unary calls: 0 or 1). */
  readonly responses: number;
  /** The status the call ended with, or `undefined` while it is open. Client cancellation is `Cancelled`. */
  readonly status: WorkloadApiStatus | undefined;
  /** The status message (`''` for OK). */
  readonly statusMessage: string;
}

/**
 * A snapshot of one call the server received: method, metadata, request, and (once it ended) the
 * status returned. The request is discriminated by `method`.
 *
 * @example
 * ```ts
 * const call = await server.waitForCall((c) => c.method === 'FetchJWTSVID' && c.status !== undefined);
 * if (call.method === 'FetchJWTSVID') console.log(call.request.audience, call.status);
 * ```
 */
export type WorkloadApiCall = WorkloadApiCallBase &
  (
    | {
        /** A streaming method whose request has no fields. */
        readonly method: 'FetchX509SVID' | 'FetchX509Bundles' | 'FetchJWTBundles';
        /** The (empty) request. */
        readonly request: Readonly<Record<string, never>>;
      }
    | {
        /** `FetchJWTSVID`. */
        readonly method: 'FetchJWTSVID';
        /** The request's fields. */
        readonly request: {
          /** `audience` (1): the requested audience. */
          readonly audience: readonly string[];
          /** `spiffe_id` (2): the requested SPIFFE ID, or `''`. */
          readonly spiffeId: string;
        };
      }
    | {
        /** `ValidateJWTSVID`. */
        readonly method: 'ValidateJWTSVID';
        /** The request's fields. */
        readonly request: {
          /** `audience` (1): the validator's audience. */
          readonly audience: string;
          /** `svid` (2): the token to validate (test data, recorded as sent). */
          readonly svid: string;
        };
      }
  );

interface Rule {
  readonly methods: ReadonlySet<WorkloadApiMethod> | undefined;
  remaining: number;
}
interface FailureRule extends Rule {
  readonly status: WorkloadApiStatus;
  readonly message: string;
}
interface DelayRule extends Rule {
  readonly until: number | PromiseLike<unknown>;
}
interface MalformRule extends Rule {
  readonly kind: WorkloadApiMalformation;
}
interface RewriteRule extends Rule {
  readonly rewrite: (response: never) => unknown;
}

interface CallState {
  id: number;
  method: WorkloadApiMethod;
  metadata: Readonly<Record<string, readonly string[]>>;
  peer: string;
  request: Readonly<Record<string, unknown>>;
  responses: number;
  status: WorkloadApiStatus | undefined;
  statusMessage: string;
}

interface OpenCall {
  readonly state: CallState;
  readonly caller: WorkloadApiCaller;
  readonly stream: boolean;
  /** Resolves once the call has ended, so nothing waits on a dead call. */
  readonly ended: Promise<void>;
  isEnded(): boolean;
  /** Sends a non-OK status (or OK for streams) and marks the call ended. */
  finish(status: WorkloadApiStatus, message: string): void;
  /** Streams only: writes one message, resolving once it was flushed or the call ended. */
  write?: (message: unknown) => Promise<void>;
  /** Streams only: the sends in order, so a push never overtakes the first response. */
  chain: Promise<void>;
}

const HEADER = 'workload.spiffe.io';
function methodSet(
  method: WorkloadApiMethod | readonly WorkloadApiMethod[] | undefined,
): ReadonlySet<WorkloadApiMethod> | undefined {
  if (method === undefined) return undefined;
  const list: readonly WorkloadApiMethod[] = typeof method === 'string' ? [method] : method;
  for (const m of list) {
    if (!METHODS.includes(m)) {
      throw new InvalidArgumentError(`unknown Workload API method ${JSON.stringify(m)}`);
    }
  }
  return new Set(list);
}

function times(value: number | undefined): number {
  if (value === undefined) return Infinity;
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new InvalidArgumentError(`"times" must be a positive integer, got ${String(value)}`);
  }
  return value;
}

function applies(rule: Rule, method: WorkloadApiMethod): boolean {
  return rule.remaining > 0 && (rule.methods === undefined || rule.methods.has(method));
}

/** Takes one use of every rule in `rules` that applies to `method`; drops exhausted rules. */
function take<R extends Rule>(rules: R[], method: WorkloadApiMethod, first = false): R[] {
  const taken: R[] = [];
  for (const rule of rules) {
    if (!applies(rule, method)) continue;
    rule.remaining -= 1;
    taken.push(rule);
    if (first) break;
  }
  for (let i = rules.length - 1; i >= 0; i--) {
    if ((rules[i]?.remaining ?? 0) <= 0) rules.splice(i, 1);
  }
  return taken;
}

function metadataRecord(metadata: Metadata): Readonly<Record<string, readonly string[]>> {
  const out: Record<string, readonly string[]> = {};
  for (const [key, values] of Object.entries(metadata.toJSON())) {
    out[key] = Object.freeze(
      values.map((v) => (typeof v === 'string' ? v : Buffer.from(v).toString('base64'))),
    );
  }
  return Object.freeze(out);
}

function snapshot(state: CallState): WorkloadApiCall {
  return Object.freeze({ ...state }) as WorkloadApiCall;
}

/**
 * An in-process SPIFFE Workload API server (a stand-in for a SPIRE agent) for tests: serves every
 * RPC of the X.509-SVID and JWT-SVID profiles over a unix socket (default) or 127.0.0.1 TCP,
 * enforces the `workload.spiffe.io: true` security header, and lets a test change the identities,
 * push updates to open streams, inject failures, delays and malformed responses, restart on the
 * same address, and read a record of every call.
 *
 * Point the code under test at {@link WorkloadApiServer.address} (the value for
 * `SPIFFE_ENDPOINT_SOCKET`). Close it with `close()` or `await using`.
 *
 * @example
 * ```ts
 * import { TestCA, WorkloadApiServer } from 'spiffe-sdk/testing';
 *
 * const ca = await TestCA.create({ trustDomain: 'example.org' });
 * await using server = await WorkloadApiServer.create({
 *   identity: { x509Svids: [await ca.issueX509Svid('spiffe://example.org/web')], x509Bundle: ca.x509Bundle() },
 * });
 * process.env.SPIFFE_ENDPOINT_SOCKET = server.address; // unix:///tmp/spiffe-wlapi-…/agent.sock
 * // … run the code under test, then rotate:
 * await server.updateIdentity({ x509Svids: [await ca.issueX509Svid('spiffe://example.org/web')] });
 * ```
 */
export class WorkloadApiServer implements AsyncDisposable {
  readonly #transport: 'unix' | 'tcp';
  #socketPath: string | undefined;
  #tempDir: string | undefined;
  #port: number | undefined;
  #grpc: Server | undefined;
  #closing: Promise<void> | undefined;
  #identity: WorkloadApiIdentity;
  #resolver: WorkloadApiIdentityResolver | undefined;
  readonly #calls: CallState[] = [];
  #lastId = 0;
  readonly #open = new Set<OpenCall>();
  readonly #waiters = new RecordWaiters<WorkloadApiCall>(() => this.#calls.map(snapshot));
  readonly #timers = new Set<{ timer: NodeJS.Timeout; resolve: () => void }>();
  readonly #failures: FailureRule[] = [];
  readonly #delays: DelayRule[] = [];
  readonly #malformations: MalformRule[] = [];
  readonly #rewrites: (RewriteRule & { readonly method: WorkloadApiMethod })[] = [];

  private constructor(options: WorkloadApiServerOptions) {
    const transport = options.transport ?? (process.platform === 'win32' ? 'tcp' : 'unix');
    const transports: readonly string[] = ['unix', 'tcp'];
    if (!transports.includes(transport)) {
      throw new InvalidArgumentError(
        `transport must be "unix" or "tcp", got ${JSON.stringify(transport)}`,
      );
    }
    if (transport === 'tcp' && options.socketPath !== undefined) {
      throw new InvalidArgumentError('socketPath needs transport "unix"');
    }
    if (transport === 'unix' && options.port !== undefined) {
      throw new InvalidArgumentError('port needs transport "tcp"');
    }
    if (
      options.port !== undefined &&
      (!Number.isSafeInteger(options.port) || options.port < 0 || options.port > 65535)
    ) {
      throw new InvalidArgumentError(`port must be an integer 0-65535, got ${options.port}`);
    }
    if (options.socketPath?.length === 0) {
      throw new InvalidArgumentError('socketPath must not be empty');
    }
    this.#transport = transport;
    this.#socketPath = options.socketPath;
    this.#port = options.port === 0 ? undefined : options.port;
    this.#identity = Object.freeze({ ...options.identity });
    this.#resolver = options.identityResolver;
  }

  /**
   * Starts a server and resolves once it is listening. Throws {@link InvalidArgumentError} for
   * bad options and {@link SpiffeError} when it cannot listen.
   *
   * @example
   * ```ts
   * const server = await WorkloadApiServer.create();                    // unix socket in a temp dir
   * const tcp = await WorkloadApiServer.create({ transport: 'tcp' });   // tcp://127.0.0.1:<port>
   * ```
   */
  static async create(options: WorkloadApiServerOptions = {}): Promise<WorkloadApiServer> {
    const server = new WorkloadApiServer(options);
    try {
      await server.#start();
    } catch (err) {
      await server.close();
      throw err;
    }
    return server;
  }

  /**
   * The endpoint address in `SPIFFE_ENDPOINT_SOCKET` form: `unix:///path/agent.sock` or
   * `tcp://127.0.0.1:<port>`. It stays the same across {@link WorkloadApiServer.restart}.
   *
   * @example
   * ```ts
   * const child = spawn('node', ['app.js'], { env: { ...process.env, SPIFFE_ENDPOINT_SOCKET: server.address } });
   * ```
   */
  get address(): string {
    return this.#transport === 'unix'
      ? `unix://${this.#requireSocketPath()}`
      : `tcp://127.0.0.1:${this.#requirePort()}`;
  }

  /**
   * The same address as a `@grpc/grpc-js` channel target (`unix:/path` or `127.0.0.1:<port>`),
   * for tests that talk to the server with a raw gRPC client.
   *
   * @example
   * ```ts
   * const client = new grpc.Client(server.grpcTarget, grpc.credentials.createInsecure());
   * ```
   */
  get grpcTarget(): string {
    return this.#transport === 'unix'
      ? `unix:${this.#requireSocketPath()}`
      : `127.0.0.1:${this.#requirePort()}`;
  }

  /**
   * Whether the server is listening (false after {@link WorkloadApiServer.stop} and `close()`).
   *
   * @example
   * ```ts
   * await server.stop();
   * server.running; // false
   * ```
   */
  get running(): boolean {
    return this.#grpc !== undefined;
  }

  /**
   * The global identity (what callers get when no resolver is set).
   *
   * @example
   * ```ts
   * server.identity.x509Svids?.length;
   * ```
   */
  get identity(): WorkloadApiIdentity {
    return this.#identity;
  }

  /**
   * Snapshots of every call received so far, in arrival order (until
   * {@link WorkloadApiServer.clearCalls}).
   *
   * @example
   * ```ts
   * const fetches = server.calls.filter((c) => c.method === 'FetchX509SVID').length;
   * ```
   */
  get calls(): readonly WorkloadApiCall[] {
    return Object.freeze(this.#calls.map(snapshot));
  }

  /**
   * Forgets the call record (calls still open keep being tracked, but are no longer listed).
   *
   * @example
   * ```ts
   * server.clearCalls();
   * server.calls.length; // 0
   * ```
   */
  clearCalls(): void {
    this.#calls.length = 0;
  }

  /**
   * Resolves with the first recorded call (already received or still to come) for which
   * `predicate` holds. The predicate is re-evaluated whenever a call arrives, sends a message or
   * ends, so a test can wait for "the second update was sent" or "the stream ended" instead of
   * sleeping. Rejects when `predicate` throws, when `options.signal` aborts, and when the server is
   * closed first.
   *
   * @example
   * ```ts
   * await server.waitForCall((c) => c.method === 'FetchX509SVID' && c.responses === 2);
   * ```
   */
  waitForCall(
    predicate: (call: WorkloadApiCall) => boolean = () => true,
    options: { signal?: AbortSignal } = {},
  ): Promise<WorkloadApiCall> {
    return this.#waiters.wait(predicate, options.signal);
  }

  /**
   * Replaces the global identity and pushes the new state to every open stream (a stream whose
   * material is gone ends with `PermissionDenied`). Resolves when the updates were written.
   *
   * @example
   * ```ts
   * await server.setIdentity({ x509Svids: [svid], x509Bundle: ca.x509Bundle() });
   * ```
   */
  setIdentity(identity: WorkloadApiIdentity): Promise<void> {
    this.#identity = Object.freeze({ ...identity });
    return this.pushUpdate();
  }

  /**
   * Changes some fields of the global identity (an explicit `undefined` removes one) and pushes the
   * new state to every open stream.
   *
   * @example
   * ```ts
   * await server.updateIdentity({ federatedX509Bundles: [partnerCa.x509Bundle()] });
   * await server.updateIdentity({ federatedX509Bundles: undefined }); // partner no longer trusted
   * ```
   */
  updateIdentity(changes: WorkloadApiIdentity): Promise<void> {
    return this.setIdentity({ ...this.#identity, ...changes });
  }

  /**
   * Chooses identities per caller (metadata, peer, method) instead of the global identity, or goes
   * back to the global identity with `undefined`; pushes to every open stream.
   *
   * @example
   * ```ts
   * await server.setIdentityResolver((caller) =>
   *   caller.metadata['x-tenant']?.[0] === 'a' ? identityA : identityB,
   * );
   * ```
   */
  setIdentityResolver(resolver: WorkloadApiIdentityResolver | undefined): Promise<void> {
    this.#resolver = resolver;
    return this.pushUpdate();
  }

  /**
   * Sends the current state again on every open stream (of `options.method`, default all),
   * whether or not it changed. Resolves when the messages were written.
   *
   * @example
   * ```ts
   * await server.pushUpdate({ method: 'FetchJWTBundles' });
   * ```
   */
  async pushUpdate(
    options: { method?: WorkloadApiMethod | readonly WorkloadApiMethod[] } = {},
  ): Promise<void> {
    const methods = methodSet(options.method);
    const pending: Promise<void>[] = [];
    for (const call of this.#open) {
      if (!call.stream || (methods !== undefined && !methods.has(call.state.method))) continue;
      call.chain = call.chain.then(() => this.#sendStreamUpdate(call));
      pending.push(call.chain);
    }
    await Promise.all(pending);
  }

  /**
   * Ends open streams (of `options.method`, default all) with `options.status` (default `OK`, a
   * normal end of stream), as an agent does when it drops a workload or shuts down. New calls are
   * served as usual. Returns how many streams were ended.
   *
   * @example
   * ```ts
   * server.closeStreams({ status: 'PermissionDenied', message: 'registration deleted' });
   * ```
   */
  closeStreams(
    options: {
      method?: WorkloadApiMethod | readonly WorkloadApiMethod[];
      status?: WorkloadApiStatus;
      message?: string;
    } = {},
  ): number {
    const methods = methodSet(options.method);
    const status = options.status ?? 'OK';
    if (!(status in STATUS_CODES)) {
      throw new InvalidArgumentError(`unknown status ${JSON.stringify(status)}`);
    }
    let n = 0;
    for (const call of [...this.#open]) {
      if (!call.stream || (methods !== undefined && !methods.has(call.state.method))) continue;
      call.finish(status, options.message ?? (status === 'OK' ? '' : `stream closed by the test`));
      n++;
    }
    return n;
  }

  /**
   * Answers new calls with an error status instead of serving them (after the security-header
   * check, which always comes first). Typical statuses: `PermissionDenied` (no identity yet),
   * `Unavailable` (agent starting), `InvalidArgument` (bad request).
   *
   * @example
   * ```ts
   * server.failWith('PermissionDenied', { method: 'FetchX509SVID', times: 3 });
   * server.failWith('Unavailable'); // every method, until clearFaults()
   * ```
   */
  failWith(
    status: Exclude<WorkloadApiStatus, 'OK'>,
    options: WorkloadApiFaultScope & { message?: string } = {},
  ): void {
    if (!(status in STATUS_CODES) || (status as WorkloadApiStatus) === 'OK') {
      throw new InvalidArgumentError(
        `failWith needs an error status, got ${JSON.stringify(status)}`,
      );
    }
    this.#failures.push({
      methods: methodSet(options.method),
      remaining: times(options.times),
      status,
      message: options.message ?? `injected ${status}`,
    });
  }

  /**
   * Holds every message of the matching methods (first responses, pushed updates, unary answers)
   * for `until` milliseconds, or until the promise `until` settles, before sending it. A promise
   * makes the timing deterministic: the test decides when the answer goes out.
   *
   * @example
   * ```ts
   * let release!: () => void;
   * server.delayResponses(new Promise<void>((r) => (release = r)), { method: 'FetchJWTSVID' });
   * // … assert that the client is still waiting, then:
   * release();
   * ```
   */
  delayResponses(until: number | PromiseLike<unknown>, options: WorkloadApiFaultScope = {}): void {
    if (typeof until === 'number' && (!Number.isFinite(until) || until < 0)) {
      throw new InvalidArgumentError(`a delay must be a non-negative number of ms, got ${until}`);
    }
    this.#delays.push({
      methods: methodSet(options.method),
      remaining: times(options.times),
      until,
    });
  }

  /**
   * Damages every matching response in the way `kind` says (see {@link WorkloadApiMalformation})
   * before it is sent, to test how clients treat responses that break the standard.
   *
   * @example
   * ```ts
   * server.malformResponses('empty-svids', { method: 'FetchX509SVID', times: 1 });
   * await server.pushUpdate(); // the open stream gets one response with no SVIDs
   * ```
   */
  malformResponses(kind: WorkloadApiMalformation, options: WorkloadApiFaultScope = {}): void {
    const kinds: readonly WorkloadApiMalformation[] = [
      'empty-svids',
      'empty-spiffe-id',
      'empty-x509-svid',
      'empty-key',
      'empty-bundle',
      'no-bundles',
      'bad-der',
      'bad-jwks',
      'bad-bundle-key',
      'bad-token',
    ];
    if (!kinds.includes(kind)) {
      throw new InvalidArgumentError(`unknown malformation ${JSON.stringify(kind)}`);
    }
    this.#malformations.push({
      methods: methodSet(options.method),
      remaining: times(options.times),
      kind,
    });
  }

  /**
   * Passes every response of `method` through `rewrite` just before it is sent (after any
   * malformation): the escape hatch for responses no other fault describes. `rewrite` gets a fresh
   * object it may change in place.
   *
   * @example
   * ```ts
   * // Send the SVID of one entry with the key of another.
   * server.rewriteResponses('FetchX509SVID', (r) => {
   *   const [a, b] = r.svids;
   *   if (a && b) a.x509SvidKey = b.x509SvidKey;
   *   return r;
   * });
   * ```
   */
  rewriteResponses<M extends WorkloadApiMethod>(
    method: M,
    rewrite: (response: WorkloadApiResponses[M]) => WorkloadApiResponses[M],
    options: { times?: number } = {},
  ): void {
    const methods = methodSet(method);
    this.#rewrites.push({
      methods,
      method,
      remaining: times(options.times),
      rewrite,
    });
  }

  /**
   * Forgets every injected failure, delay, malformation and rewrite (pending delayed messages
   * whose delay is a number are released now).
   *
   * @example
   * ```ts
   * server.clearFaults();
   * ```
   */
  clearFaults(): void {
    this.#failures.length = 0;
    this.#delays.length = 0;
    this.#malformations.length = 0;
    this.#rewrites.length = 0;
    this.#releaseTimers();
  }

  /**
   * Stops listening: open calls end with `Unavailable`, the unix socket file is removed, and the
   * address is kept for {@link WorkloadApiServer.restart}. The call record and identities stay.
   *
   * @example
   * ```ts
   * await server.stop();    // clients now see Unavailable and retry
   * await server.restart(); // same socket path / port
   * ```
   */
  async stop(): Promise<void> {
    const grpc = this.#grpc;
    if (grpc === undefined) return;
    this.#grpc = undefined;
    for (const call of [...this.#open])
      call.finish('Unavailable', 'the Workload API server stopped');
    this.#releaseTimers();
    await new Promise<void>((resolve) => {
      // tryShutdown lets the statuses just sent reach the clients; a client that keeps its
      // connection busy must not keep a test waiting, hence the bounded fallback.
      const fallback = setTimeout(() => {
        grpc.forceShutdown();
        resolve();
      }, 2000);
      grpc.tryShutdown(() => {
        clearTimeout(fallback);
        resolve();
      });
    });
    if (this.#transport === 'unix' && this.#socketPath !== undefined) {
      await removeSocket(this.#socketPath);
    }
  }

  /**
   * Starts listening again on the same address (stopping first if needed), with the same
   * identities and faults. Throws {@link InvalidArgumentError} after `close()`.
   *
   * @example
   * ```ts
   * await server.stop();
   * await server.restart();
   * ```
   */
  async restart(): Promise<void> {
    if (this.#closing !== undefined) {
      throw new InvalidArgumentError('the Workload API server is closed');
    }
    await this.stop();
    await this.#start();
  }

  /**
   * Stops the server for good and removes the temporary directory it created. Idempotent; leaves
   * no handle open, so the process can exit.
   *
   * @example
   * ```ts
   * await server.close();
   * ```
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      await this.stop();
      // No call can arrive or change any more: a waiter still waiting would wait forever.
      this.#waiters.failAll(
        new InvalidArgumentError('the Workload API server closed before the call came'),
      );
      if (this.#tempDir !== undefined) await rm(this.#tempDir, { recursive: true, force: true });
    })();
    return this.#closing;
  }

  /**
   * Same as `close()`, for `await using server = await WorkloadApiServer.create()`.
   *
   * @example
   * ```ts
   * {
   *   await using server = await WorkloadApiServer.create();
   * } // closed here
   * ```
   */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  // ---------------------------------------------------------------------------------------------

  #requireSocketPath(): string {
    if (this.#socketPath === undefined) throw new InvalidArgumentError('the server has no socket');
    return this.#socketPath;
  }

  #requirePort(): number {
    if (this.#port === undefined) throw new InvalidArgumentError('the server has no port');
    return this.#port;
  }

  async #start(): Promise<void> {
    if (this.#grpc !== undefined) return;
    let target: string;
    if (this.#transport === 'unix') {
      if (this.#socketPath === undefined) {
        this.#tempDir = await mkdtemp(join(tmpdir(), 'spiffe-wlapi-'));
        this.#socketPath = join(this.#tempDir, 'agent.sock');
      }
      await removeSocket(this.#socketPath);
      target = `unix:${this.#socketPath}`;
    } else {
      target = `127.0.0.1:${this.#port ?? 0}`;
    }
    const grpc = new Server();
    grpc.addService(SpiffeWorkloadAPIService, this.#handlers());
    const port = await new Promise<number>((resolve, reject) => {
      grpc.bindAsync(target, ServerCredentials.createInsecure(), (err, boundPort) => {
        if (err)
          reject(new SpiffeError(`cannot listen on ${target}: ${err.message}`, { cause: err }));
        else resolve(boundPort);
      });
    });
    if (this.#transport === 'tcp') this.#port = port;
    this.#grpc = grpc;
  }

  #handlers(): SpiffeWorkloadAPIServer {
    return {
      fetchX509Svid: (call: ServerWritableStream<X509SVIDRequest, unknown>) => {
        this.#onStream('FetchX509SVID', call, {});
      },
      fetchX509Bundles: (call: ServerWritableStream<X509BundlesRequest, unknown>) => {
        this.#onStream('FetchX509Bundles', call, {});
      },
      fetchJwtBundles: (call: ServerWritableStream<JWTBundlesRequest, unknown>) => {
        this.#onStream('FetchJWTBundles', call, {});
      },
      fetchJwtsvid: (
        call: ServerUnaryCall<JWTSVIDRequest, unknown>,
        callback: sendUnaryData<unknown>,
      ) => {
        const request = {
          audience: Object.freeze([...call.request.audience]),
          spiffeId: call.request.spiffeId,
        };
        this.#onUnary('FetchJWTSVID', call, callback, request);
      },
      validateJwtsvid: (
        call: ServerUnaryCall<ValidateJWTSVIDRequest, unknown>,
        callback: sendUnaryData<unknown>,
      ) => {
        const request = { audience: call.request.audience, svid: call.request.svid };
        this.#onUnary('ValidateJWTSVID', call, callback, request);
      },
    } as SpiffeWorkloadAPIServer;
  }

  #notify(): void {
    this.#waiters.notify();
  }

  #record(
    method: WorkloadApiMethod,
    metadata: Metadata,
    peer: string,
    request: Readonly<Record<string, unknown>>,
  ): CallState {
    const state: CallState = {
      id: ++this.#lastId,
      method,
      metadata: metadataRecord(metadata),
      peer,
      request: Object.freeze(request),
      responses: 0,
      status: undefined,
      statusMessage: '',
    };
    this.#calls.push(state);
    return state;
  }

  #newCall(
    state: CallState,
    stream: boolean,
    send: (status: WorkloadApiStatus, message: string) => void,
  ): OpenCall {
    let ended = false;
    let markEnded!: () => void;
    const endedPromise = new Promise<void>((resolve) => (markEnded = resolve));
    const call: OpenCall = {
      state,
      caller: Object.freeze({ method: state.method, metadata: state.metadata, peer: state.peer }),
      stream,
      ended: endedPromise,
      isEnded: () => ended,
      finish: (status, message) => {
        if (ended) return;
        ended = true;
        state.status = status;
        state.statusMessage = status === 'OK' ? '' : message;
        this.#open.delete(call);
        markEnded();
        send(status, message);
        this.#notify();
      },
      chain: Promise.resolve(),
    };
    this.#open.add(call);
    return call;
  }

  /**
   * The security-header rule (Workload Endpoint standard §3: exactly one value, `true`, case
   * sensitive; otherwise InvalidArgument, §6), then injected failures. True when the call may be served.
   */
  #admission(call: OpenCall, metadata: Metadata): boolean {
    const values = metadata.get(HEADER);
    if (values.length !== 1 || values[0] !== 'true') {
      call.finish(
        'InvalidArgument',
        `security header missing from request: "${HEADER}: true" is required`,
      );
      return false;
    }
    const [failure] = take(this.#failures, call.state.method, true);
    if (failure !== undefined) {
      call.finish(failure.status, failure.message);
      return false;
    }
    return true;
  }

  #onStream(
    method: WorkloadApiMethod,
    grpcCall: ServerWritableStream<unknown, unknown>,
    request: Readonly<Record<string, unknown>>,
  ): void {
    const state = this.#record(method, grpcCall.metadata, grpcCall.getPeer(), request);
    const call = this.#newCall(state, true, (status, message) => {
      if (grpcCall.cancelled) return;
      if (status === 'OK') grpcCall.end();
      else grpcCall.emit('error', { code: STATUS_CODES[status], details: message });
    });
    grpcCall.on('cancelled', () => {
      call.finish('Cancelled', 'cancelled by the client');
    });
    call.write = (message) =>
      Promise.race([
        new Promise<void>((resolve) => {
          grpcCall.write(message, () => {
            resolve();
          });
        }),
        call.ended,
      ]);
    this.#notify();
    if (!this.#admission(call, grpcCall.metadata)) return;
    call.chain = this.#sendStreamUpdate(call);
  }

  async #sendStreamUpdate(call: OpenCall): Promise<void> {
    const write = call.write;
    if (write === undefined || call.isEnded()) return;
    try {
      await this.#awaitDelays(call);
      if (call.isEnded()) return;
      const result = await this.#build(call);
      if (call.isEnded()) return;
      if (!result.ok) {
        call.finish(result.status, result.message);
        return;
      }
      await write(result.response);
      if (call.isEnded()) return;
      call.state.responses += 1;
      this.#notify();
    } catch (err) {
      call.finish('Internal', `the test server failed: ${messageOf(err)}`);
    }
  }

  #onUnary(
    method: WorkloadApiMethod,
    grpcCall: ServerUnaryCall<unknown, unknown>,
    callback: sendUnaryData<unknown>,
    request: Readonly<Record<string, unknown>>,
  ): void {
    const state = this.#record(method, grpcCall.metadata, grpcCall.getPeer(), request);
    const call = this.#newCall(state, false, (status, message) => {
      // OK: the answer itself is sent by the caller of finish; a cancelled call takes no answer.
      if (status === 'OK' || grpcCall.cancelled) return;
      callback({ code: STATUS_CODES[status], details: message });
    });
    grpcCall.on('cancelled', () => {
      call.finish('Cancelled', 'cancelled by the client');
    });
    this.#notify();
    if (!this.#admission(call, grpcCall.metadata)) return;
    const answer = async (): Promise<void> => {
      await this.#awaitDelays(call);
      if (call.isEnded()) return;
      const result = await this.#build(call);
      if (call.isEnded()) return;
      if (!result.ok) {
        call.finish(result.status, result.message);
        return;
      }
      state.responses = 1;
      call.finish('OK', '');
      callback(null, result.response);
    };
    answer().catch((err: unknown) => {
      call.finish('Internal', `the test server failed: ${messageOf(err)}`);
    });
  }

  async #awaitDelays(call: OpenCall): Promise<void> {
    for (const rule of take(this.#delays, call.state.method)) {
      if (typeof rule.until === 'number') {
        await Promise.race([this.#sleep(rule.until), call.ended]);
      } else {
        await Promise.race([Promise.resolve(rule.until).then(noop, noop), call.ended]);
      }
      if (call.isEnded()) return;
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const entry = {
        timer: setTimeout(() => {
          this.#timers.delete(entry);
          resolve();
        }, ms),
        resolve,
      };
      this.#timers.add(entry);
    });
  }

  #releaseTimers(): void {
    for (const entry of this.#timers) {
      clearTimeout(entry.timer);
      entry.resolve();
    }
    this.#timers.clear();
  }

  /** Builds the answer for `call` from the caller's identity, then applies malformations/rewrites. */
  async #build(call: OpenCall): Promise<Result<unknown>> {
    let identity: WorkloadApiIdentity | undefined;
    try {
      identity = this.#resolver ? this.#resolver(call.caller) : this.#identity;
    } catch (err) {
      return {
        ok: false,
        status: 'Internal',
        message: `identity resolver failed: ${messageOf(err)}`,
      };
    }
    if (identity === undefined)
      return { ok: false, status: 'PermissionDenied', message: NO_IDENTITY };
    const { method } = call.state;
    switch (method) {
      case 'FetchX509SVID':
        return this.#finalize(method, x509SvidResponse(identity), toGenX509SvidResponse);
      case 'FetchX509Bundles':
        return this.#finalize(method, x509BundlesResponse(identity), toGenX509BundlesResponse);
      case 'FetchJWTBundles':
        return this.#finalize(method, jwtBundlesResponse(identity), toGenJwtBundlesResponse);
      case 'FetchJWTSVID': {
        const request = call.state.request as { audience: readonly string[]; spiffeId: string };
        return this.#finalize(
          method,
          await jwtSvidResponse(identity, request),
          toGenJwtSvidResponse,
        );
      }
      case 'ValidateJWTSVID': {
        const request = call.state.request as { audience: string; svid: string };
        return this.#finalize(
          method,
          await validateResponse(identity, request),
          toGenValidateJwtSvidResponse,
        );
      }
    }
  }

  #finalize<M extends WorkloadApiMethod>(
    method: M,
    result: Result<WorkloadApiResponses[M]>,
    toGen: (response: WorkloadApiResponses[M]) => unknown,
  ): Result<unknown> {
    if (!result.ok) return result;
    let response = result.response;
    for (const rule of take(this.#malformations, method))
      response = malform(rule.kind, method, response);
    for (const rule of take(this.#rewrites, method)) {
      response = (rule.rewrite as (r: WorkloadApiResponses[M]) => WorkloadApiResponses[M])(
        response,
      );
    }
    return { ok: true, response: toGen(response) };
  }
}

function noop(): void {
  // intentionally empty: a rejected delay promise releases the message like a resolved one
}

async function removeSocket(path: string): Promise<void> {
  try {
    const stats = await lstat(path);
    // Only ever remove a socket: a mistyped socketPath must not delete a user's file.
    if (stats.isSocket()) await unlink(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}
