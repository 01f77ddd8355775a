import { InvalidArgumentError } from '../errors.js';
import { SpiffeId, TrustDomain } from '../spiffeid/index.js';
import type { X509Svid } from '../svid/x509-svid.js';
import { JwtAuthority } from './jwt-authority.js';
import { TestCA } from './test-ca.js';
import { WorkloadApiServer } from './workload-api-server.js';

/**
 * Options of {@link DevAgent.create}.
 *
 * @example
 * ```ts
 * const options: DevAgentOptions = { trustDomain: 'example.org', ids: ['spiffe://example.org/web'], svidTtlSeconds: 30 };
 * ```
 */
export interface DevAgentOptions {
  /** The trust domain (default `example.org`). */
  readonly trustDomain?: TrustDomain | string;
  /** The SPIFFE IDs to issue, first = default identity (default `spiffe://<td>/workload`). */
  readonly ids?: readonly (SpiffeId | string)[];
  /** The unix socket path (default: `agent.sock` in a fresh temporary directory). */
  readonly socketPath?: string;
  /** X509-SVID lifetime in seconds (default 60); SVIDs are re-issued at half their lifetime. */
  readonly svidTtlSeconds?: number;
  /** Called after each rotation with the new SVIDs (for logs). Errors it throws are ignored. */
  readonly onRotate?: (svids: readonly X509Svid[]) => void;
}

/**
 * A local development agent: a {@link TestCA}, a {@link JwtAuthority} and a
 * {@link WorkloadApiServer} on a unix socket, issuing X509-SVIDs for the configured SPIFFE IDs
 * and re-issuing them at half their lifetime, and JWT-SVIDs on request, so an app can run against
 * `SPIFFE_ENDPOINT_SOCKET` without SPIRE. Every caller gets the same identities. Also available as
 * the CLI command `npx spiffe-sdk dev-agent`. For development and tests only.
 *
 * @example
 * ```ts
 * import { DevAgent } from 'spiffe-sdk/testing';
 *
 * await using agent = await DevAgent.create({ ids: ['spiffe://example.org/web'], svidTtlSeconds: 30 });
 * process.env.SPIFFE_ENDPOINT_SOCKET = agent.address;
 * ```
 */
export class DevAgent {
  /** The trust domain of every identity. */
  readonly trustDomain: TrustDomain;
  /** The SPIFFE IDs issued, first = default. */
  readonly ids: readonly SpiffeId[];
  /** The X.509 authority. */
  readonly ca: TestCA;
  /** The JWT authority. */
  readonly jwtAuthority: JwtAuthority;
  /** The Workload API server. */
  readonly server: WorkloadApiServer;
  readonly #ttlSeconds: number;
  readonly #onRotate: ((svids: readonly X509Svid[]) => void) | undefined;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  #rotations = 0;

  private constructor(
    init: Pick<DevAgent, 'trustDomain' | 'ids' | 'ca' | 'jwtAuthority' | 'server'>,
    ttlSeconds: number,
    onRotate: DevAgentOptions['onRotate'],
  ) {
    this.trustDomain = init.trustDomain;
    this.ids = init.ids;
    this.ca = init.ca;
    this.jwtAuthority = init.jwtAuthority;
    this.server = init.server;
    this.#ttlSeconds = ttlSeconds;
    this.#onRotate = onRotate;
  }

  /**
   * Starts the agent; resolves once the Workload API is listening and the first SVIDs are issued.
   * Throws {@link InvalidArgumentError} for IDs outside the trust domain or a bad TTL.
   *
   * @example
   * ```ts
   * const agent = await DevAgent.create({ trustDomain: 'example.org' });
   * console.log(`export SPIFFE_ENDPOINT_SOCKET=${agent.address}`);
   * ```
   */
  static async create(options: DevAgentOptions = {}): Promise<DevAgent> {
    const trustDomain =
      options.trustDomain instanceof TrustDomain
        ? options.trustDomain
        : TrustDomain.parse(options.trustDomain ?? 'example.org');
    const ids = (options.ids ?? [`${trustDomain.idString()}/workload`]).map((id) =>
      typeof id === 'string' ? SpiffeId.parse(id) : id,
    );
    if (ids.length === 0)
      throw new InvalidArgumentError('the dev agent needs at least one SPIFFE ID');
    for (const id of ids) {
      if (!id.memberOf(trustDomain)) {
        throw new InvalidArgumentError(
          `SPIFFE ID "${id.toString()}" is not in the dev agent's trust domain "${trustDomain.name}"`,
        );
      }
    }
    const ttl = options.svidTtlSeconds ?? 60;
    if (!Number.isFinite(ttl) || ttl < 2) {
      throw new InvalidArgumentError(`svidTtlSeconds must be at least 2, got ${ttl}`);
    }
    const ca = await TestCA.create({ trustDomain });
    const jwtAuthority = await JwtAuthority.create({ trustDomain });
    const server = await WorkloadApiServer.create(
      options.socketPath === undefined ? {} : { socketPath: options.socketPath },
    );
    const agent = new DevAgent(
      { trustDomain, ids, ca, jwtAuthority, server },
      ttl,
      options.onRotate,
    );
    try {
      await agent.rotate();
    } catch (err) {
      await agent.close();
      throw err;
    }
    return agent;
  }

  /**
   * The endpoint address to put in `SPIFFE_ENDPOINT_SOCKET` (`unix:///…/agent.sock`).
   *
   * @example
   * ```ts
   * spawn('node', ['app.js'], { env: { ...process.env, SPIFFE_ENDPOINT_SOCKET: agent.address } });
   * ```
   */
  get address(): string {
    return this.server.address;
  }

  /**
   * How many times SVIDs were issued (1 after {@link DevAgent.create}).
   *
   * @example
   * ```ts
   * await agent.rotate();
   * agent.rotations; // 2
   * ```
   */
  get rotations(): number {
    return this.#rotations;
  }

  /**
   * Issues new X509-SVIDs for every ID now, pushes them to every open stream, and schedules the
   * next rotation at half the lifetime.
   *
   * @example
   * ```ts
   * await agent.rotate(); // clients watching the Workload API see new SVIDs
   * ```
   */
  async rotate(): Promise<void> {
    clearTimeout(this.#timer);
    const svids = await Promise.all(
      this.ids.map((id) => this.ca.issueX509Svid(id, { ttlSeconds: this.#ttlSeconds })),
    );
    if (this.#closed) return;
    await this.server.setIdentity({
      x509Svids: svids,
      x509Bundle: this.ca.x509Bundle(),
      jwtAuthority: this.jwtAuthority,
    });
    this.#rotations++;
    try {
      this.#onRotate?.(svids);
    } catch {
      // A logging callback must not stop rotation.
    }
    this.#schedule();
  }

  #schedule(): void {
    if (this.#closed) return;
    this.#timer = setTimeout(
      () => {
        this.rotate().catch(() => {
          // The server was closed under us, or issuing failed: retry at the next interval.
          this.#schedule();
        });
      },
      (this.#ttlSeconds * 1000) / 2,
    );
    // The server's socket keeps the process alive; the timer alone must not.
    this.#timer.unref();
  }

  /**
   * Stops rotating, closes the Workload API server and removes its socket. Idempotent.
   *
   * @example
   * ```ts
   * process.once('SIGINT', () => void agent.close());
   * ```
   */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.server.close();
  }

  /** Same as {@link DevAgent.close}, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
