// X509Source with automatic rotation, against an in-process Workload API server (a stand-in for a
// SPIRE agent, from spiffe-sdk/testing), so it runs anywhere:
//   npm run build && node dist/examples/workloadapi-x509-source.js
// Against a real agent, drop the server and set SPIFFE_ENDPOINT_SOCKET instead.
import { TestCA, WorkloadApiServer } from 'spiffe-sdk/testing';
import { NoIdentityError, X509Source } from 'spiffe-sdk/workloadapi';

const ca = await TestCA.create({ trustDomain: 'example.org' });
await using agent = await WorkloadApiServer.create({
  identity: {
    x509Svids: [await ca.issueX509Svid('spiffe://example.org/web', { ttlSeconds: 3600 })],
    x509Bundle: ca.x509Bundle(),
  },
});

// Resolves after the first update, or fails after 10 s with the last status seen.
await using source = await X509Source.create({ address: agent.address, timeout: 10_000 });
const first = source.getX509Svid();
console.log(`identity ${first.id.toString()}, expires ${first.expiresAt.toISOString()}`);
console.log(
  `trusts ${source
    .getX509BundleSet()
    .bundles()
    .map((b) => b.trustDomain.name)
    .join(', ')}`,
);

// Rotation: the agent pushes a new SVID; the source swaps it in atomically and tells listeners.
const rotated = new Promise<void>((resolve) => {
  const off = source.onUpdate(({ svid }) => {
    console.log(`rotated: serial ${svid?.certificates[0]?.serialNumber ?? '-'}`);
    off();
    resolve();
  });
});
await agent.updateIdentity({ x509Svids: [await ca.issueX509Svid('spiffe://example.org/web')] });
await rotated;

// Withdrawal: when the agent answers PermissionDenied, the identity is no longer presented.
agent.failWith('PermissionDenied', { method: 'FetchX509SVID', message: 'registration deleted' });
const withdrawn = new Promise<void>((resolve) => {
  const off = source.onUpdate(() => {
    off();
    resolve();
  });
});
agent.closeStreams({
  method: 'FetchX509SVID',
  status: 'PermissionDenied',
  message: 'registration deleted',
});
await withdrawn;
try {
  source.getX509Svid();
} catch (err) {
  if (!(err instanceof NoIdentityError)) throw err;
  console.log(`no identity now (${err.reason}): ${err.lastError?.message ?? ''}`);
}
console.log(`status: ${source.status().state}`);
