// close() leaves no handle open: a child process that creates and closes sources (one of them with
// a watch waiting in backoff for an absent agent) exits by itself.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { WorkloadApiServer } from '../../src/testing/workload-api-server.js';
import { type ChildOutcome, runNode } from '../child-process.js';
import { baseIdentity, fixture, startServer } from './helpers.js';

let server: WorkloadApiServer;

before(async () => {
  server = await startServer(baseIdentity(await fixture()));
});
after(async () => {
  await server.close();
});

const CHILD = `
const sdk = await import(process.env.SDK_URL);
const handles = () => process.getActiveResourcesInfo().filter((r) => r !== 'TTYWrap');
const source = await sdk.X509Source.create({ timeout: 10000 });
const shared = await sdk.X509Source.shared({ timeout: 10000 });
const jwt = await sdk.JwtSource.create({ timeout: 10000 });
const bundles = await sdk.BundleSource.create({ timeout: 10000 });
await jwt.fetchJwtSvid({ audience: 'api' });
const nowhere = new sdk.WorkloadApiClient({
  address: 'unix:///nonexistent/agent.sock',
  backoff: sdk.exponentialBackoff({ initialDelayMs: 60000 }),
});
const onEvent = new Promise((resolve) => { nowhere.watchX509Context({ onError: resolve })[Symbol.asyncIterator]().next(); });
await onEvent; // the watch now waits 30-60 s before its next attempt
const open = handles();
await source.close();
await shared.close();
await jwt.close();
await bundles.close();
await nowhere.close();
console.log(JSON.stringify({ id: source.status().state, open, after: handles() }));
`;

function runChild(): Promise<ChildOutcome> {
  return runNode(['--input-type=module', '-e', CHILD], {
    env: {
      ...process.env,
      SPIFFE_ENDPOINT_SOCKET: server.address,
      SDK_URL: new URL('../../src/workloadapi/index.js', import.meta.url).href,
    },
    timeoutMs: 20_000,
  });
}

describe('close() leaves no handle open', () => {
  it('a child process that creates and closes sources exits by itself', async () => {
    const { code, stdout, stderr } = await runChild();
    assert.equal(code, 0, stderr);
    const report = JSON.parse(stdout.trim()) as { id: string; open: string[]; after: string[] };
    assert.equal(report.id, 'closed');
    // Control: while open, the streams' sockets and the backoff timer keep the process alive;
    // close() clears the timer at once (sockets finish closing asynchronously, then the child exits).
    assert.ok(report.open.includes('PipeWrap'), JSON.stringify(report.open));
    assert.ok(report.open.includes('Timeout'), JSON.stringify(report.open));
    assert.ok(!report.after.includes('Timeout'), JSON.stringify(report.after));
  });
});
