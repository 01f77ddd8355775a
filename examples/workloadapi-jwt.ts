// JWT-SVIDs from the Workload API: a caller fetches (cached) tokens from a JwtSource, a server
// validates them against the JWT bundles the same source keeps up to date. Runs against an
// in-process Workload API server:
//   npm run build && node dist/examples/workloadapi-jwt.js
import { parseAndValidateJwtSvid } from 'spiffe-sdk/svid';
import { JwtAuthority, TestCA, WorkloadApiServer } from 'spiffe-sdk/testing';
import { JwtSource, WorkloadApiClient } from 'spiffe-sdk/workloadapi';

const ca = await TestCA.create({ trustDomain: 'example.org' });
const jwtAuthority = await JwtAuthority.create({ trustDomain: 'example.org' });
await using agent = await WorkloadApiServer.create({
  identity: {
    x509Svids: [await ca.issueX509Svid('spiffe://example.org/web')],
    x509Bundle: ca.x509Bundle(),
    jwtAuthority,
  },
});

await using source = await JwtSource.create({ address: agent.address, timeout: 10_000 });
const audience = 'spiffe://example.org/reports';

// Caller side: the second call is served from the cache (refreshed at half the token's lifetime).
const svid = await source.fetchJwtSvid({ audience });
const again = await source.fetchJwtSvid({ audience });
console.log(
  `token for ${svid.id.toString()}, expires ${svid.expiry.toISOString()}, cached: ${String(svid === again)}`,
);

// Server side: validate locally with the JWT bundles from the source...
const caller = await parseAndValidateJwtSvid(svid.marshal(), source, audience);
console.log(`validated locally: ${caller.id.toString()}`);

// ...or ask the agent to validate (ValidateJWTSVID).
await using client = new WorkloadApiClient({ address: agent.address });
const viaAgent = await client.validateJwtSvid(svid.marshal(), audience);
console.log(`validated by the agent: ${viaAgent.id.toString()}`);
