// Deleting a workload's registration entry withdraws its identity: SPIRE answers the open
// FetchX509SVID stream with PermissionDenied, and the X509Source drops the SVID and the bundles.
// Registering the entry again restores both.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { deployment, NodeWorkload, spireServer } from './helpers.js';

const info = deployment.workloads.withdrawn;

describe('identity withdrawal', () => {
  it('drops the SVID and the bundles when the entry is deleted, and restores them when it is back', async () => {
    await using workload = await NodeWorkload.start('withdrawn');
    const issued = workload.events.all.at(-1);
    assert.ok(issued?.event === 'update' && issued.id === info.id);
    assert.ok(issued.trustDomains.includes(deployment.trustDomains.alpha.name));

    let from = workload.events.length;
    await spireServer('alpha', ['entry', 'delete'], ['-entryID', 'withdrawn']);
    const withdrawn = await workload.events.waitFor(
      'the withdrawal',
      (e) => e.event === 'update' && e.id === undefined,
      from,
    );
    assert.ok(withdrawn.event === 'update');
    assert.deepEqual(withdrawn.trustDomains, []);

    from = workload.events.length;
    await spireServer('alpha', ['entry', 'create'], info.entryArgs);
    const restored = await workload.events.waitFor(
      'the new SVID',
      (e) => e.event === 'update' && e.id === info.id,
      from,
    );
    assert.ok(restored.event === 'update');
    assert.ok(restored.trustDomains.includes(deployment.trustDomains.alpha.name));
  });
});
