// Rotation on a live mTLS server: the "rotating" workload's entry has a 30 s X.509-SVID TTL, so
// the agent issues it a new SVID at about half its life. The test process keeps making requests,
// each a new TLS handshake, until the server presents the new SVID; none may fail.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { authorizeId, mtlsClient, SpiffeHttpsAgent } from 'spiffe-sdk/tls';
import { X509Source } from 'spiffe-sdk/workloadapi';
import { deployment, EVENT_TIMEOUT_MS, get, NodeWorkload, runner } from './helpers.js';

const info = deployment.workloads.rotating;

let source: X509Source;
let server: NodeWorkload;

before(async () => {
  source = await X509Source.create({ timeout: 60_000 });
  server = await NodeWorkload.start('rotating');
});
after(async () => {
  await server.close();
  await source.close();
});

describe('SVID rotation with a short TTL', () => {
  it('serves the rotated SVID with no failed handshake', { timeout: 120_000 }, async () => {
    const issued = server.events.all.at(-1);
    assert.ok(issued?.event === 'update' && issued.expiresAt !== undefined);
    // The entry's TTL, not the server's default of 1 h.
    assert.ok(Date.parse(issued.expiresAt) - Date.now() <= 30_000);

    const { port } = (await server.call({ op: 'serve', allow: runner.id })) as { port: number };
    const url = `https://127.0.0.1:${port}/`;
    const agent = new SpiffeHttpsAgent(mtlsClient(source, authorizeId(info.id)));
    const failures: unknown[] = [];
    const serials: string[] = [];
    // Handshakes with the new certificate before the test ends: the switch must hold.
    const afterRotation = 20;
    const rotatedHandshakes = (): number => serials.filter((s) => s !== serials[0]).length;
    const deadline = Date.now() + EVENT_TIMEOUT_MS;
    try {
      // Until the server presented a second certificate (it rotated between two handshakes)
      // often enough.
      while (rotatedHandshakes() < afterRotation && Date.now() < deadline) {
        try {
          const response = await get(agent, url);
          assert.equal(response.server, info.id);
          assert.equal(response.body, runner.id);
          serials.push(response.serial);
        } catch (err) {
          failures.push(err);
        }
      }
    } finally {
      agent.destroy();
    }
    const handshakes = serials.length + failures.length;
    assert.deepEqual(failures, [], `${failures.length} of ${handshakes} handshakes failed`);
    assert.equal(rotatedHandshakes(), afterRotation, `no rotation in ${handshakes} handshakes`);
    const rotated = serials.at(-1);
    // One rotation: every later handshake presented the same new certificate.
    assert.equal(new Set(serials).size, 2);
    // The certificate the server presented is the one its X509Source reported.
    await server.events.waitFor(
      'the rotation reported by the server workload',
      (e) => e.event === 'update' && e.id === info.id && e.serial === rotated,
    );
  });
});
