import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { describe, it } from 'node:test';
import { InvalidArgumentError } from '../../src/errors.js';
import { SpiffeId } from '../../src/spiffeid/index.js';
import { parseAndValidateJwtSvid } from '../../src/svid/index.js';
import { DevAgent } from '../../src/testing/index.js';
import { WorkloadApiClient } from '../../src/workloadapi/index.js';

describe('DevAgent', () => {
  it('serves X509-SVIDs for the configured IDs (first = default) and JWT-SVIDs on request', async () => {
    await using agent = await DevAgent.create({
      ids: ['spiffe://example.org/web', 'spiffe://example.org/api'],
    });
    await using client = new WorkloadApiClient({ address: agent.address });
    const svids = await client.fetchX509Svids();
    assert.deepEqual(
      svids.map((s) => s.id.toString()),
      ['spiffe://example.org/web', 'spiffe://example.org/api'],
    );
    const jwt = await client.fetchJwtSvid({ audience: 'billing' });
    const validated = await parseAndValidateJwtSvid(jwt.token, agent.jwtAuthority, 'billing');
    assert.equal(validated.id.toString(), 'spiffe://example.org/web');
  });

  it('rotate() issues new SVIDs that watchers receive', async () => {
    await using agent = await DevAgent.create({ svidTtlSeconds: 3600 });
    await using client = new WorkloadApiClient({ address: agent.address });
    const seen: string[] = [];
    for await (const context of client.watchX509Context({ signal: AbortSignal.timeout(10_000) })) {
      seen.push(context.defaultSvid.certificates[0]!.serialNumber);
      if (seen.length === 1) await agent.rotate();
      if (seen.length === 2) break;
    }
    assert.equal(seen.length, 2);
    assert.notEqual(seen[0], seen[1]);
    assert.equal(agent.rotations, 2);
  });

  it('re-issues SVIDs by itself at half their lifetime', async () => {
    await using agent = await DevAgent.create({ svidTtlSeconds: 2 });
    await using client = new WorkloadApiClient({ address: agent.address });
    let updates = 0;
    for await (const context of client.watchX509Context({ signal: AbortSignal.timeout(10_000) })) {
      assert.equal(context.defaultSvid.id.toString(), 'spiffe://example.org/workload');
      if (++updates === 2) break;
    }
    assert.equal(updates, 2);
    assert.ok(agent.rotations >= 2);
  });

  it('rejects an ID outside the trust domain, and a too short TTL', async () => {
    await assert.rejects(
      DevAgent.create({ trustDomain: 'example.org', ids: ['spiffe://other.org/web'] }),
      InvalidArgumentError,
    );
    await assert.rejects(DevAgent.create({ svidTtlSeconds: 1 }), InvalidArgumentError);
    const ok = await DevAgent.create({
      ids: [SpiffeId.parse('spiffe://example.org/ok')],
      svidTtlSeconds: 2,
    });
    await ok.close();
  });

  it('close() removes the socket and is idempotent', async () => {
    const agent = await DevAgent.create();
    const path = new URL(agent.address).pathname;
    assert.ok(existsSync(path));
    await agent.close();
    await agent.close();
    assert.equal(existsSync(path), false);
  });
});
