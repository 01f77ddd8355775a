// JWT-SVIDs from a real SPIRE agent: fetched with JwtSource, validated locally with the agent's
// JWT bundles, and validated by the agent (ValidateJWTSVID).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { InvalidJwtSvidError, parseAndValidateJwtSvid } from 'spiffe-sdk/svid';
import { JwtSource, WorkloadApiClient, WorkloadApiError } from 'spiffe-sdk/workloadapi';
import { deployment, NodeWorkload, runner } from './helpers.js';

const audience = 'spiffe://alpha.test/reports';
const otherAudience = 'spiffe://alpha.test/not-us';

/** The token with one character of its signature changed. */
function tampered(token: string): string {
  const last = token.at(-2) === 'A' ? 'B' : 'A';
  return `${token.slice(0, -2)}${last}${token.slice(-1)}`;
}

let source: JwtSource;
let client: WorkloadApiClient;

before(async () => {
  source = await JwtSource.create({ timeout: 60_000 });
  client = new WorkloadApiClient();
});
after(async () => {
  await source.close();
  await client.close();
});

describe('JWT-SVIDs from a SPIRE agent', () => {
  it('fetches a JWT-SVID for the entry and validates it with the agent JWT bundles', async () => {
    const svid = await source.fetchJwtSvid({ audience });
    assert.equal(svid.id.toString(), runner.id);
    assert.deepEqual(svid.audience, [audience]);
    const validated = await parseAndValidateJwtSvid(svid.marshal(), source, audience);
    assert.equal(validated.id.toString(), runner.id);
  });

  it('rejects the same token for another audience, and with a changed signature', async () => {
    const token = (await source.fetchJwtSvid({ audience })).marshal();
    await assert.rejects(
      parseAndValidateJwtSvid(token, source, otherAudience),
      (err: unknown) => err instanceof InvalidJwtSvidError && err.reason === 'audience',
    );
    await assert.rejects(
      parseAndValidateJwtSvid(tampered(token), source, audience),
      (err: unknown) => err instanceof InvalidJwtSvidError && err.reason === 'signature',
    );
  });

  it('has the agent validate a token (ValidateJWTSVID), and refuse it for another audience', async () => {
    const token = (await source.fetchJwtSvid({ audience })).marshal();
    const validated = await client.validateJwtSvid(token, audience);
    assert.equal(validated.id.toString(), runner.id);
    await assert.rejects(
      client.validateJwtSvid(token, otherAudience),
      (err: unknown) => err instanceof WorkloadApiError && err.grpcStatus === 'InvalidArgument',
    );
  });

  it("validates another workload's token, locally and through the agent", async () => {
    await using workload = await NodeWorkload.start('nodeServer');
    const { token, id } = (await workload.call({ op: 'fetch-jwt', audience: runner.id })) as {
      token: string;
      id: string;
    };
    assert.equal(id, deployment.workloads.nodeServer.id);
    const local = await parseAndValidateJwtSvid(token, source, runner.id);
    assert.equal(local.id.toString(), deployment.workloads.nodeServer.id);
    const byAgent = await client.validateJwtSvid(token, runner.id);
    assert.equal(byAgent.id.toString(), deployment.workloads.nodeServer.id);
  });
});
