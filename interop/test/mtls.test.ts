// mTLS between two Node workloads with SPIRE-issued X509-SVIDs: the test process ("runner") and
// a workload process started under another uid ("nodeServer"); a third ("intruder") is a valid
// workload of the same trust domain that the server's authorizer does not allow.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { authorizeId, mtlsClient, PeerUnauthorizedError, SpiffeHttpsAgent } from 'spiffe-sdk/tls';
import { X509Source } from 'spiffe-sdk/workloadapi';
import { deployment, get, NodeWorkload, runner, WorkloadCallError } from './helpers.js';

const serverInfo = deployment.workloads.nodeServer;
const intruderInfo = deployment.workloads.intruder;

let source: X509Source;
let server: NodeWorkload;
let url: string;

before(async () => {
  source = await X509Source.create({ timeout: 60_000 });
  server = await NodeWorkload.start('nodeServer');
  const { port } = (await server.call({ op: 'serve', allow: runner.id })) as { port: number };
  url = `https://127.0.0.1:${port}/`;
});
after(async () => {
  await server.close();
  await source.close();
});

describe('mTLS between Node workloads with SPIRE SVIDs', () => {
  it('connects when each side allows the other', async () => {
    const agent = new SpiffeHttpsAgent(mtlsClient(source, authorizeId(serverInfo.id)));
    try {
      const from = server.events.length;
      const response = await get(agent, url);
      assert.equal(response.status, 200);
      assert.equal(response.server, serverInfo.id);
      assert.equal(response.body, runner.id);
      await server.events.waitFor(
        'the request',
        (e) => e.event === 'request' && e.peer === runner.id,
        from,
      );
    } finally {
      agent.destroy();
    }
  });

  it('the client refuses a server its authorizer does not allow', async () => {
    const agent = new SpiffeHttpsAgent(
      mtlsClient(source, authorizeId('spiffe://alpha.test/someone-else')),
    );
    try {
      await assert.rejects(
        get(agent, url),
        (err: unknown) => err instanceof PeerUnauthorizedError && err.peerId === serverInfo.id,
      );
    } finally {
      agent.destroy();
    }
  });

  it('the server refuses a client its authorizer does not allow', async () => {
    await using intruder = await NodeWorkload.start('intruder');
    const from = server.events.length;
    await assert.rejects(
      intruder.call({ op: 'request', url, expect: serverInfo.id }),
      (err: unknown) => err instanceof WorkloadCallError,
    );
    const rejected = await server.events.waitFor(
      'the refusal',
      (e) => e.event === 'rejected',
      from,
    );
    assert.ok(rejected.event === 'rejected');
    assert.equal(rejected.error.code, 'ERR_SPIFFE_TLS_PEER_UNAUTHORIZED');
    assert.equal(rejected.error.peerId, intruderInfo.id);
  });
});
