// Interop with go-spiffe (interop/go-peer, the newest go-spiffe v2 from the Go module proxy) on
// the same SPIRE agent: mTLS in both directions, each side accepting the right peer and refusing
// a peer its authorizer does not allow, and JWT-SVIDs minted by one side validated by the other.
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { InvalidJwtSvidError, parseAndValidateJwtSvid } from 'spiffe-sdk/svid';
import {
  authorizeId,
  createHttpsServer,
  mtlsClient,
  mtlsServer,
  PeerUnauthorizedError,
  peerIdOf,
  SpiffeHttpsAgent,
} from 'spiffe-sdk/tls';
import { JwtSource, X509Source } from 'spiffe-sdk/workloadapi';
import {
  deployment,
  EventLog,
  get,
  GoServer,
  runGoPeer,
  runner,
  type GoPeerEvent,
} from './helpers.js';

const goPeer = deployment.workloads.goPeer;
const nobody = 'spiffe://alpha.test/nobody';

let x509: X509Source;
let jwt: JwtSource;

before(async () => {
  x509 = await X509Source.create({ timeout: 60_000 });
  jwt = await JwtSource.create({ timeout: 60_000 });
});
after(async () => {
  await x509.close();
  await jwt.close();
});

/** A Node mTLS server that allows `allow`; resolves with its URL and the clients it refused. */
async function nodeServer(allow: string) {
  const refusals = new EventLog<Error>();
  const mode = mtlsServer(x509, authorizeId(allow), {
    onReject: (error) => {
      refusals.push(error);
    },
  });
  const server = createHttpsServer(mode, {}, (req, res) => {
    res.end(peerIdOf(req)?.toString());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `https://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    refusals,
    [Symbol.asyncDispose]: () =>
      new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
      }),
  };
}

function only(events: readonly GoPeerEvent[], event: string): GoPeerEvent {
  const found = events.filter((e) => e.event === event);
  assert.equal(found.length, 1, `one ${event} line in ${JSON.stringify(events)}`);
  return found[0]!;
}

describe('Node client, go-spiffe server', () => {
  it('each accepts the other', async () => {
    await using server = await GoServer.start(runner.id);
    const agent = new SpiffeHttpsAgent(mtlsClient(x509, authorizeId(goPeer.id)));
    try {
      const response = await get(agent, `https://127.0.0.1:${server.port}/`);
      assert.equal(response.status, 200);
      assert.equal(response.server, goPeer.id);
      assert.equal(response.body, runner.id);
    } finally {
      agent.destroy();
    }
  });

  it('the Node client refuses the Go server when its authorizer does not allow it', async () => {
    await using server = await GoServer.start(runner.id);
    const agent = new SpiffeHttpsAgent(mtlsClient(x509, authorizeId(nobody)));
    try {
      await assert.rejects(
        get(agent, `https://127.0.0.1:${server.port}/`),
        (err: unknown) => err instanceof PeerUnauthorizedError && err.peerId === goPeer.id,
      );
    } finally {
      agent.destroy();
    }
  });

  it('the Go server refuses the Node client when its authorizer does not allow it', async () => {
    await using server = await GoServer.start(nobody);
    const agent = new SpiffeHttpsAgent(mtlsClient(x509, authorizeId(goPeer.id)));
    try {
      await assert.rejects(get(agent, `https://127.0.0.1:${server.port}/`));
    } finally {
      agent.destroy();
    }
    const refused = await server.events.waitFor('the refusal', (e) => e.event === 'server-error');
    assert.match(String(refused['error']), /unexpected ID "spiffe:\/\/alpha\.test\/runner"/);
  });
});

describe('go-spiffe client, Node server', () => {
  it('each accepts the other', async () => {
    await using server = await nodeServer(goPeer.id);
    const { code, events } = await runGoPeer(['request', '-url', server.url, '-expect', runner.id]);
    assert.equal(code, 0, JSON.stringify(events));
    const response = only(events, 'response');
    assert.equal(response['status'], 200);
    assert.equal(response['server'], runner.id);
    assert.equal(response['body'], goPeer.id);
  });

  it('the Go client refuses the Node server when its authorizer does not allow it', async () => {
    await using server = await nodeServer(goPeer.id);
    const { code, events } = await runGoPeer(['request', '-url', server.url, '-expect', nobody]);
    assert.equal(code, 1);
    assert.match(
      String(only(events, 'error')['error']),
      /unexpected ID "spiffe:\/\/alpha\.test\/runner"/,
    );
  });

  it('the Node server refuses the Go client when its authorizer does not allow it', async () => {
    await using server = await nodeServer(nobody);
    const { code, events } = await runGoPeer(['request', '-url', server.url, '-expect', runner.id]);
    assert.equal(code, 1, JSON.stringify(events));
    const refusal = await server.refusals.waitFor('the refusal', () => true);
    assert.ok(refusal instanceof PeerUnauthorizedError);
    assert.equal(refusal.peerId, goPeer.id);
  });
});

describe('JWT-SVIDs between go-spiffe and Node', () => {
  it('Node validates a JWT-SVID that go-spiffe fetched, for its audience only', async () => {
    const { code, events } = await runGoPeer(['fetch-jwt', '-audience', runner.id]);
    assert.equal(code, 0, JSON.stringify(events));
    const token = String(only(events, 'jwt')['token']);
    const svid = await parseAndValidateJwtSvid(token, jwt, runner.id);
    assert.equal(svid.id.toString(), goPeer.id);
    await assert.rejects(
      parseAndValidateJwtSvid(token, jwt, nobody),
      (err: unknown) => err instanceof InvalidJwtSvidError && err.reason === 'audience',
    );
  });

  it('go-spiffe validates a JWT-SVID that Node fetched, for its audience only', async () => {
    const token = (await jwt.fetchJwtSvid({ audience: goPeer.id })).marshal();
    const accepted = await runGoPeer(['validate-jwt', '-audience', goPeer.id], token);
    assert.equal(accepted.code, 0, JSON.stringify(accepted.events));
    assert.equal(only(accepted.events, 'validated')['id'], runner.id);
    const refused = await runGoPeer(['validate-jwt', '-audience', nobody], token);
    assert.equal(refused.code, 1);
    assert.match(String(only(refused.events, 'error')['error']), /audience/);
  });
});
