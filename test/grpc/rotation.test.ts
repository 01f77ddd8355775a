// Rotation under load: while a client issues a continuous stream of unary calls over an existing
// connection and over new ones, the server's and the client's SVIDs rotate. No call fails, new
// connections present the new serials (both ways), the existing connection keeps working, and
// trust that is removed is refused.
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { status } from '@grpc/grpc-js';
import { X509BundleSet } from '../../src/bundle/x509-bundle-set.js';
import { mtlsClientCredentials, mtlsServerCredentials } from '../../src/grpc/index.js';
import type { X509Svid } from '../../src/svid/x509-svid.js';
import {
  authorizeAny,
  authorizeMemberOf,
  type Authorizer,
  MutableX509Source,
  mtlsServer,
} from '../../src/tls/index.js';
import { type World, world } from '../tls/helpers.js';
import {
  assertOk,
  assertRefused,
  bound,
  client,
  hello,
  injected,
  type Running,
} from './helpers.js';

let w: World;
let srv2: X509Svid;
let cli2: X509Svid;

before(async () => {
  w = await world();
  [srv2, cli2] = await Promise.all([
    w.a.issueX509Svid('spiffe://a.org/server'),
    w.a.issueX509Svid('spiffe://a.org/client'),
  ]);
});

function serial(svid: X509Svid): string {
  return svid.certificates[0]?.serialNumber ?? '';
}

const kinds = [
  {
    name: 'mtlsServerCredentials (bindAsync)',
    start: (src: MutableX509Source, authorizer: Authorizer) =>
      bound(mtlsServerCredentials(src, authorizer)),
  },
  {
    name: 'createGrpcTlsServer',
    start: (src: MutableX509Source, authorizer: Authorizer) =>
      injected(mtlsServer(src, authorizer)),
  },
] as const;

for (const kind of kinds) {
  describe(`rotation: ${kind.name}`, () => {
    it('rotates both SVIDs mid-stream of calls without a failed call', async () => {
      const serverSource = new MutableX509Source(w.srvA, w.bundles);
      const clientSource = new MutableX509Source(w.cliA, w.bundles);
      const running = await kind.start(serverSource, authorizeMemberOf('a.org'));
      // The client's authorizer records the serial of every server leaf it verified.
      const serverSerials: string[] = [];
      const creds = mtlsClientCredentials(clientSource, (id, chains) => {
        serverSerials.push(chains[0]?.[0]?.serialNumber ?? '');
        return id.memberOf(w.a.trustDomain);
      });
      const existing = client(running.port, creds);
      const opened = [existing];
      try {
        assertOk(await hello(existing));
        const CALLS = 40;
        let failures = 0;
        let done = 0;
        const newConnectionSeen: { client: string; server: string }[] = [];
        const worker = async (fresh: boolean): Promise<void> => {
          while (done < CALLS) {
            done += 1;
            if (done === CALLS / 2) {
              serverSource.update({ svid: srv2 });
              clientSource.update({ svid: cli2 });
            }
            const c = fresh ? client(running.port, creds) : existing;
            if (fresh) opened.push(c);
            const before = serverSerials.length;
            const outcome = await hello(c);
            if (!outcome.ok) failures += 1;
            else if (fresh) {
              newConnectionSeen.push({
                client: outcome.value.clientSerial ?? '',
                server: serverSerials[before] ?? '',
              });
            }
            if (fresh) c.close();
          }
        };
        // Calls on the existing connection and on a new connection per call, concurrently.
        await Promise.all([worker(false), worker(false), worker(true)]);
        assert.equal(failures, 0);
        const last = newConnectionSeen.at(-1);
        assert.deepEqual(last, { client: serial(cli2), server: serial(srv2) });
        assert.deepEqual(newConnectionSeen[0], { client: serial(w.cliA), server: serial(w.srvA) });
        // The connection opened before the rotation still serves calls, with its old identities.
        const seen = assertOk(await hello(existing));
        assert.equal(seen.clientSerial, serial(w.cliA));
      } finally {
        for (const c of opened) c.close();
        await running.stop();
      }
    });

    it('refuses a trust domain removed from the bundles on new connections', async () => {
      const serverSource = new MutableX509Source(w.srvA, w.bundles);
      const running = await kind.start(serverSource, authorizeAny());
      const b = new MutableX509Source(w.cliB, w.bundles);
      try {
        const before = client(running.port, mtlsClientCredentials(b, authorizeAny()));
        assertOk(await hello(before));
        before.close();
        serverSource.update({ bundles: X509BundleSet.of(w.a.x509Bundle()) });
        const after = client(running.port, mtlsClientCredentials(b, authorizeAny()));
        assertRefused(await hello(after), status.UNAVAILABLE);
        after.close();
        // Positive control: a.org clients are still served.
        const a = client(
          running.port,
          mtlsClientCredentials(new MutableX509Source(w.cliA, w.bundles), authorizeAny()),
        );
        assertOk(await hello(a));
        a.close();
      } finally {
        await running.stop();
      }
    });
  });
}

describe('rotation: per-call checks of mtlsServerCredentials', () => {
  it('refuses calls on a connection verified under trust that was removed since', async () => {
    const serverSource = new MutableX509Source(w.srvA, w.bundles);
    const running: Running = await bound(mtlsServerCredentials(serverSource, authorizeAny()));
    const c = client(
      running.port,
      mtlsClientCredentials(new MutableX509Source(w.cliB, w.bundles), authorizeAny()),
    );
    try {
      assertOk(await hello(c));
      serverSource.update({ bundles: X509BundleSet.of(w.a.x509Bundle()) });
      assertRefused(await hello(c), status.UNAUTHENTICATED);
      assert.equal(running.recorder.invocations, 1);
    } finally {
      c.close();
      await running.stop();
    }
  });
});
