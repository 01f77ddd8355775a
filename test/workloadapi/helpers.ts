// Shared fixtures for the Workload API client tests: CAs, JWT authorities, a server, a counting
// deterministic backoff, and ways to wait for events instead of sleeping.
import { TrustDomain } from '../../src/spiffeid/index.js';
import type { X509Svid } from '../../src/svid/x509-svid.js';
import { JwtAuthority } from '../../src/testing/jwt-authority.js';
import { TestCA } from '../../src/testing/test-ca.js';
import {
  WorkloadApiServer,
  type WorkloadApiIdentity,
} from '../../src/testing/workload-api-server.js';
import type { BackoffStrategy, WorkloadApiEvent } from '../../src/workloadapi/index.js';

export const td = TrustDomain.parse('example.org');
export const partnerTd = TrustDomain.parse('partner.org');

export interface Fixture {
  readonly ca: TestCA;
  readonly partnerCa: TestCA;
  readonly jwt: JwtAuthority;
  readonly partnerJwt: JwtAuthority;
  /** Two SVIDs for spiffe://example.org/web (a rotation), and one for /db. */
  readonly web1: X509Svid;
  readonly web2: X509Svid;
  readonly db: X509Svid;
}

export async function fixture(): Promise<Fixture> {
  const [ca, partnerCa, jwt, partnerJwt] = await Promise.all([
    TestCA.create({ trustDomain: td }),
    TestCA.create({ trustDomain: partnerTd }),
    JwtAuthority.create({ trustDomain: td }),
    JwtAuthority.create({ trustDomain: partnerTd }),
  ]);
  const [web1, web2, db] = await Promise.all([
    ca.issueX509Svid('spiffe://example.org/web'),
    ca.issueX509Svid('spiffe://example.org/web'),
    ca.issueX509Svid('spiffe://example.org/db'),
  ]);
  return { ca, partnerCa, jwt, partnerJwt, web1, web2, db };
}

/** The identity most tests start with: web1, own bundle, partner.org federated (X.509 and JWT). */
export function baseIdentity(f: Fixture): WorkloadApiIdentity {
  return {
    x509Svids: [f.web1],
    x509Bundle: f.ca.x509Bundle(),
    federatedX509Bundles: [f.partnerCa.x509Bundle()],
    jwtAuthority: f.jwt,
    federatedJwtBundles: [f.partnerJwt.jwtBundle()],
  };
}

export function startServer(identity: WorkloadApiIdentity): Promise<WorkloadApiServer> {
  return WorkloadApiServer.create({ identity });
}

/** A deterministic backoff that waits `delayMs` every time and counts its use. */
export interface CountingBackoff extends BackoffStrategy {
  readonly delays: number[];
  resets: number;
}

export function countingBackoff(delayMs = 2): CountingBackoff {
  const strategy: CountingBackoff = {
    delays: [],
    resets: 0,
    newBackoff: () => ({
      next: () => {
        strategy.delays.push(delayMs);
        return delayMs;
      },
      reset: () => {
        strategy.resets++;
      },
    }),
  };
  return strategy;
}

/** Records client events and lets a test wait for one. */
export class EventLog {
  readonly events: WorkloadApiEvent[] = [];
  readonly #waiters = new Set<{
    predicate: (e: WorkloadApiEvent) => boolean;
    resolve: (e: WorkloadApiEvent) => void;
  }>();

  readonly onEvent = (event: WorkloadApiEvent): void => {
    this.events.push(event);
    for (const waiter of [...this.#waiters]) {
      if (waiter.predicate(event)) {
        this.#waiters.delete(waiter);
        waiter.resolve(event);
      }
    }
  };

  /** The next event (from now on) for which `predicate` holds. */
  next(predicate: (e: WorkloadApiEvent) => boolean): Promise<WorkloadApiEvent> {
    return new Promise((resolve) => this.#waiters.add({ predicate, resolve }));
  }

  count(predicate: (e: WorkloadApiEvent) => boolean): number {
    return this.events.filter(predicate).length;
  }
}

/** The next update of a source for which `predicate` holds. */
export function nextUpdate<T>(
  source: { onUpdate(listener: (s: T) => void): () => void },
  predicate: (s: T) => boolean = () => true,
): Promise<T> {
  return new Promise((resolve) => {
    const off = source.onUpdate((s) => {
      if (predicate(s)) {
        off();
        resolve(s);
      }
    });
  });
}

export function sameSvid(a: X509Svid | undefined, b: X509Svid): boolean {
  return (
    a !== undefined &&
    a.certificates[0]?.raw.equals(b.certificates[0]?.raw ?? Buffer.alloc(0)) === true
  );
}
