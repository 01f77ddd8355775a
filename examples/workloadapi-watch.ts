// The low-level client: one-shot fetches and a watch as an async iterable, with an event hook for
// logs. Runs against an in-process Workload API server:
//   npm run build && node dist/examples/workloadapi-watch.js
import { TestCA, WorkloadApiServer } from 'spiffe-sdk/testing';
import { WorkloadApiClient } from 'spiffe-sdk/workloadapi';

const ca = await TestCA.create({ trustDomain: 'example.org' });
const partner = await TestCA.create({ trustDomain: 'partner.org' });
await using agent = await WorkloadApiServer.create({
  identity: {
    x509Svids: [
      await ca.issueX509Svid('spiffe://example.org/web', { hint: 'internal' }),
      await ca.issueX509Svid('spiffe://example.org/web-public', { hint: 'external' }),
    ],
    x509Bundle: ca.x509Bundle(),
    federatedX509Bundles: [partner.x509Bundle()],
  },
});

await using client = new WorkloadApiClient({
  address: agent.address,
  onEvent: (event) => {
    if (event.type === 'stream-failed')
      console.log(`[log] ${event.error.message}; retry in ${event.retryInMs} ms`);
  },
});

const context = await client.fetchX509Context();
console.log(
  `default ${context.defaultSvid.id.toString()}; external ${context.svidByHint('external')?.id.toString() ?? '-'}`,
);

const controller = new AbortController();
let updates = 0;
for await (const bundles of client.watchX509Bundles({ signal: controller.signal })) {
  console.log(
    `trusted: ${bundles
      .bundles()
      .map((b) => b.trustDomain.name)
      .join(', ')}`,
  );
  if (++updates === 1) {
    await agent.updateIdentity({ federatedX509Bundles: undefined }); // partner.org removed
  } else {
    controller.abort(); // ends the loop
  }
}
