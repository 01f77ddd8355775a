// No socket or timer outlives a fetch or a closed watch: a child process that runs failing
// fetches (timeout, abort, oversized endless body, 404) and watches, then closes them, exits by
// itself although the servers in this process would keep a leaked connection open for a minute.
// The child also shows that https_web's default roots include NODE_EXTRA_CA_CERTS and that proxy
// variables from the environment are not used.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SpiffeBundle } from '../../src/bundle/index.js';
import { BundleEndpointServer, TestCA } from '../../src/testing/index.js';
import { type ChildOutcome, runNode } from '../child-process.js';

const TD = 'a.test';
const servers: Record<string, BundleEndpointServer> = {};
let dir: string;

before(async () => {
  const ca = await TestCA.create({ trustDomain: TD });
  const bundle = SpiffeBundle.fromX509Bundle(ca.x509Bundle());
  for (const name of ['ok', 'slow', 'endless', 'missing']) {
    servers[name] = await BundleEndpointServer.create({
      profile: 'https_web',
      trustDomain: TD,
      bundle,
    });
  }
  servers['slow']?.setFault({ kind: 'slow', delayMs: 60_000 });
  servers['endless']?.setFault({ kind: 'oversized', bytes: Infinity });
  servers['missing']?.setFault({ kind: 'status', status: 404 });
  dir = await mkdtemp(join(tmpdir(), 'spiffe-sdk-federation-'));
  await writeFile(
    join(dir, 'roots.pem'),
    Object.values(servers)
      .map((s) => s.webRootPem)
      .join(''),
  );
});
after(async () => {
  await Promise.all(Object.values(servers).map((s) => s.close()));
  await rm(dir, { recursive: true, force: true });
});

const CHILD = `
const fed = await import(process.env.FEDERATION_URL);
const urls = JSON.parse(process.env.ENDPOINTS);
const auth = { profile: 'https_web' }; // Node's default roots (+ NODE_EXTRA_CA_CERTS)
const reasonOf = (p) => p.then(() => 'ok', (e) => e.reason ?? e.message);
const out = {};
out.ok = await reasonOf(fed.fetchBundle('a.test', urls.ok, { auth }));
out.timeout = await reasonOf(fed.fetchBundle('a.test', urls.slow, { auth, timeout: 200 }));
out.endless = await reasonOf(fed.fetchBundle('a.test', urls.endless, { auth, maxBytes: 10000 }));
out.missing = await reasonOf(fed.fetchBundle('a.test', urls.missing, { auth }));
const controller = new AbortController();
const aborted = reasonOf(fed.fetchBundle('a.test', urls.slow, { auth, signal: controller.signal }));
setTimeout(() => controller.abort(new Error('aborted')), 100);
out.aborted = await aborted;
const good = fed.watchBundle('a.test', urls.ok, { auth });
out.watch = (await good.waitForBundle()).trustDomain.name;
const stuck = fed.watchBundle('a.test', urls.slow, { auth });
out.open = process.getActiveResourcesInfo();
await good.close();
await stuck.close();
out.after = process.getActiveResourcesInfo();
console.log(JSON.stringify(out));
`;

function runChild(): Promise<ChildOutcome> {
  const dead = 'http://127.0.0.1:9';
  return runNode(['--input-type=module', '-e', CHILD], {
    env: {
      ...process.env,
      FEDERATION_URL: new URL('../../src/federation/index.js', import.meta.url).href,
      ENDPOINTS: JSON.stringify(
        Object.fromEntries(Object.entries(servers).map(([k, s]) => [k, s.url])),
      ),
      NODE_EXTRA_CA_CERTS: join(dir, 'roots.pem'),
      NODE_USE_ENV_PROXY: '1',
      HTTPS_PROXY: dead,
      https_proxy: dead,
      HTTP_PROXY: dead,
      http_proxy: dead,
    },
    timeoutMs: 30_000,
  });
}

describe('federation: nothing outlives a fetch or a closed watch', () => {
  it('a child process with failing fetches and closed watches exits by itself', async () => {
    const { code, stdout, stderr } = await runChild();
    assert.equal(code, 0, stderr);
    const out = JSON.parse(stdout.trim()) as Record<string, unknown> & {
      open: string[];
      after: string[];
    };
    assert.deepEqual(
      {
        ok: out['ok'],
        timeout: out['timeout'],
        endless: out['endless'],
        missing: out['missing'],
        aborted: out['aborted'],
        watch: out['watch'],
      },
      {
        ok: 'ok', // default roots include NODE_EXTRA_CA_CERTS; no proxy was used
        timeout: 'timeout',
        endless: 'too-large',
        missing: 'status',
        aborted: 'aborted',
        watch: TD,
      },
    );
    // Control: while open, the watches hold a refresh timer; close() clears it at once.
    assert.ok(out.open.includes('Timeout'), JSON.stringify(out.open));
    assert.ok(!out.after.includes('Timeout'), JSON.stringify(out.after));
  });
});
