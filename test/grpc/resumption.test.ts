// No TLS session resumption on either side (tls-in-node.md §3): Node skips checkServerIdentity on
// a resumed client session and a resumed server session carries only the leaf. Servers issue no
// tickets and keep no session cache, also after a rotation; clients never offer a session.
// Positive controls show that the same probes do detect resumption where it happens.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import http2 from 'node:http2';
import tls from 'node:tls';
import { before, describe, it } from 'node:test';
import { ServerCredentials } from '@grpc/grpc-js';
import { mtlsClientCredentials, mtlsServerCredentials } from '../../src/grpc/index.js';
import { authorizeAny, MutableX509Source, mtlsServer } from '../../src/tls/index.js';
import { pem, pems, VERSIONS, type Version, type World, world } from '../tls/helpers.js';
import { bound, client, injected, type Running } from './helpers.js';

let w: World;
let ca: string[];

before(async () => {
  w = await world();
  ca = pems([...w.a.x509Authorities, ...w.b.x509Authorities]);
});

/**
 * Connects twice with a plain Node TLS client presenting cliA, offering the first connection's
 * session on the second; resolves with whether the second one was resumed.
 */
async function secondIsResumed(port: number, version: Version): Promise<boolean> {
  const options = {
    host: '127.0.0.1',
    port,
    ...pem(w.cliA),
    ca,
    ALPNProtocols: ['h2'],
    minVersion: version,
    maxVersion: version,
    checkServerIdentity: () => undefined,
  };
  const first = tls.connect(options);
  // TLS 1.3 tickets arrive after the handshake; TLS 1.2 sessions with it.
  const [session] = (await once(first, 'session')) as [Buffer];
  first.destroy();
  const second = tls.connect({ ...options, session });
  await once(second, 'secureConnect');
  const resumed = second.isSessionReused();
  second.destroy();
  return resumed;
}

const servers = [
  {
    name: 'mtlsServerCredentials (bindAsync)',
    start: (src: MutableX509Source) => bound(mtlsServerCredentials(src, authorizeAny())),
  },
  {
    name: 'createGrpcTlsServer',
    start: (src: MutableX509Source) => injected(mtlsServer(src, authorizeAny())),
  },
] as const;

describe('servers never resume a session', () => {
  for (const version of VERSIONS) {
    it(`positive control: a plain grpc-js SSL server resumes (${version})`, async () => {
      const { key, cert } = pem(w.srvA);
      const plain = await bound(
        ServerCredentials.createSsl(
          Buffer.from(ca.join('')),
          [{ private_key: Buffer.from(key), cert_chain: Buffer.from(cert) }],
          true,
        ),
      );
      try {
        assert.equal(await secondIsResumed(plain.port, version), true);
      } finally {
        await plain.stop();
      }
    });

    for (const server of servers) {
      it(`${server.name}: no resumption, also after a rotation (${version})`, async () => {
        const source = new MutableX509Source(w.srvA, w.bundles);
        const running: Running = await server.start(source);
        try {
          assert.equal(await secondIsResumed(running.port, version), false);
          // setSecureContext resets every option it is not given; the complete set keeps NO_TICKET.
          source.update({ svid: await w.a.issueX509Svid('spiffe://a.org/server') });
          assert.equal(await secondIsResumed(running.port, version), false);
        } finally {
          await running.stop();
        }
      });
    }
  }
});

describe('clients never offer a session', () => {
  for (const version of VERSIONS) {
    it(`every connection of the channel credentials is a full handshake (${version})`, async () => {
      // A plain http2 server that issues tickets and resumes sessions (Node's defaults).
      const server = http2.createSecureServer({
        ...pem(w.srvA),
        ca,
        requestCert: true,
        minVersion: version,
        maxVersion: version,
      });
      let resumed = 0;
      let connections = 0;
      server.on('secureConnection', (socket: tls.TLSSocket) => {
        connections += 1;
        if (socket.isSessionReused()) resumed += 1;
      });
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      const address = server.address();
      assert.ok(address !== null && typeof address === 'object');
      let verifications = 0;
      const creds = mtlsClientCredentials(new MutableX509Source(w.cliA, w.bundles), () => {
        verifications += 1;
      });
      try {
        for (let i = 0; i < 3; i++) {
          const c = client(address.port, creds);
          await new Promise<void>((resolve, reject) => {
            c.waitForReady(Date.now() + 10_000, (err) => {
              if (err === undefined) resolve();
              else reject(err);
            });
          });
          c.close();
        }
        assert.equal(connections, 3);
        assert.equal(resumed, 0);
        assert.equal(verifications, 3, 'the server was verified on every connection');
        // Positive control: a client that offers its session is resumed by this server.
        assert.equal(await secondIsResumed(address.port, version), true);
      } finally {
        const done = once(server, 'close');
        server.close();
        await done;
      }
    });
  }
});
