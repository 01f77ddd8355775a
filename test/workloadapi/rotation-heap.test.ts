// 1000 rotations through an X509Source without heap growth: nothing (old contexts, listeners,
// parsed certificates, stream state) accumulates per update.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { WorkloadApiServer } from '../../src/testing/workload-api-server.js';
import { X509Source } from '../../src/workloadapi/index.js';
import {
  baseIdentity,
  fixture,
  nextUpdate,
  sameSvid,
  startServer,
  type Fixture,
} from './helpers.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

let f: Fixture;
let server: WorkloadApiServer;

before(async () => {
  f = await fixture();
  server = await startServer(baseIdentity(f));
});
after(async () => {
  await server.close();
});

function heapAfterGc(): number {
  for (let i = 0; i < 3; i++) gc();
  return process.memoryUsage().heapUsed;
}

describe('X509Source memory', () => {
  it('1000 rotations without heap growth', async () => {
    await using source = await X509Source.create({ address: server.address, timeout: 10_000 });
    const svids = [f.web2, f.web1];
    let n = 0;
    const rotate = async (count: number): Promise<void> => {
      for (let i = 0; i < count; i++, n++) {
        const svid = svids[n % 2]!;
        const update = nextUpdate(source);
        await server.updateIdentity({ x509Svids: [svid] });
        await update;
        assert.ok(sameSvid(source.getX509Svid(), svid));
      }
    };
    await rotate(100); // warm up: JIT, caches, pools
    const before = heapAfterGc();
    await rotate(1000);
    const afterRotations = heapAfterGc();
    assert.equal(source.status().updates, 1101);
    const growth = afterRotations - before;
    // Each update parses ~4 certificates (a few KB); a leak of one context per update would be
    // megabytes after 1000 updates. Allow noise well below that.
    assert.ok(growth < 1_500_000, `heap grew by ${growth} bytes over 1000 rotations`);
  });
});
