// Closing releases everything: servers and channels stop following their sources once grpc-js
// (or the TLS front end) shut down, so nothing is left subscribed or open. This file's process
// must exit by itself after the tests, which the runner relies on.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { before, describe, it } from 'node:test';
import { mtlsClientCredentials, mtlsServerCredentials } from '../../src/grpc/index.js';
import { authorizeAny, MutableX509Source, mtlsServer } from '../../src/tls/index.js';
import { type World, world } from '../tls/helpers.js';
import { assertOk, bound, client, hello, injected } from './helpers.js';

let w: World;

before(async () => {
  w = await world();
});

describe('lifecycle', () => {
  it('server credentials follow the source only while a server is bound', async () => {
    const source = new MutableX509Source(w.srvA, w.bundles);
    const creds = mtlsServerCredentials(source, authorizeAny());
    assert.equal(source.listenerCount, 0);
    const running = await bound(creds);
    assert.equal(source.listenerCount, 1);
    await new Promise<void>((resolve, reject) => {
      running.server.tryShutdown((err) => {
        if (err === undefined) resolve();
        else reject(err);
      });
    });
    assert.equal(source.listenerCount, 0);
  });

  it('channel credentials follow the source only while the channel has connections', async () => {
    const running = await bound(
      mtlsServerCredentials(new MutableX509Source(w.srvA, w.bundles), authorizeAny()),
    );
    const source = new MutableX509Source(w.cliA, w.bundles);
    const c = client(running.port, mtlsClientCredentials(source, authorizeAny()));
    try {
      assertOk(await hello(c));
      assert.ok(source.listenerCount > 0);
    } finally {
      c.close();
      await running.stop();
    }
    assert.equal(source.listenerCount, 0);
  });

  it('createGrpcTlsServer: closing the TLS server ends the subscription and the injector', async () => {
    const source = new MutableX509Source(w.srvA, w.bundles);
    const running = await injected(mtlsServer(source, authorizeAny()));
    assert.equal(source.listenerCount, 1);
    const c = client(
      running.port,
      mtlsClientCredentials(new MutableX509Source(w.cliA, w.bundles), authorizeAny()),
    );
    assertOk(await hello(c));
    c.close();
    // Only the TLS server is closed here: it must not wait for the gRPC server's shutdown.
    const done = once(running.tlsServer, 'close');
    running.tlsServer.close();
    await done;
    assert.equal(source.listenerCount, 0);
    running.server.forceShutdown();
  });
});
