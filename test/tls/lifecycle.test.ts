// Every resource of the tls layer (server subscriptions, agents, dispatchers) can be closed and
// then leaves nothing that keeps the process alive: a child process that uses all of them and
// closes them must exit on its own.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const dist = (rel: string): string => fileURLToPath(new URL(rel, import.meta.url));

const SCRIPT = `
import https from 'node:https';
import http2 from 'node:http2';
import { fetch } from 'undici';
import { world, pem } from ${JSON.stringify(dist('./helpers.js'))};
import * as t from ${JSON.stringify(dist('../../src/tls/index.js'))};
const w = await world();
const source = new t.MutableX509Source(w.srvA, w.bundles);
const serverMode = t.mtlsServer(source, t.authorizeAny());
const server = t.createHttpsServer(serverMode, {}, (req, res) => res.end('ok'));
const h2 = t.createHttp2SecureServer(serverMode, {}, (req, res) => res.end('ok'));
await new Promise((r) => server.listen(0, '127.0.0.1', r));
await new Promise((r) => h2.listen(0, '127.0.0.1', r));
const clientSource = new t.MutableX509Source(w.cliA, w.bundles);
const mode = t.mtlsClient(clientSource, t.authorizeId('spiffe://a.org/server'));
const agent = new t.SpiffeHttpsAgent(mode, { keepAlive: true });
const dispatcher = await t.createUndiciDispatcher(mode);
const get = (options) => new Promise((resolve, reject) => {
  https.get({ ...options, host: '127.0.0.1', port: server.address().port, path: '/' }, (res) => {
    res.resume(); res.on('end', resolve);
  }).on('error', reject);
});
await get({ agent });
await get(mode.httpsOptions());
await (await fetch('https://127.0.0.1:' + server.address().port + '/', { dispatcher })).text();
const session = t.http2Connect(mode, 'https://127.0.0.1:' + h2.address().port);
const stream = session.request({ ':path': '/' });
stream.resume();
await new Promise((r) => stream.on('end', r));
session.close();
agent.close();
await dispatcher.close();
const closed = Promise.all([server, h2].map((s) => new Promise((r) => s.once('close', r))));
server.close(); server.closeAllConnections();
h2.close();
await closed;
console.log('listeners', source.listenerCount, clientSource.listenerCount);
`;

describe('resources leave no handle behind', () => {
  it(
    'a process that used servers, an agent, a dispatcher and http2 exits by itself',
    { timeout: 30_000 },
    async () => {
      const child = spawn(process.execPath, ['--input-type=module', '-e', SCRIPT], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      let err = '';
      child.stdout.on('data', (c: Buffer) => (out += c.toString()));
      child.stderr.on('data', (c: Buffer) => (err += c.toString()));
      const [code] = (await once(child, 'exit')) as [number | null];
      // 13 would mean a pending top-level await with nothing left to run (a test bug, not a leak).
      assert.equal(code, 0, err);
      assert.match(out, /listeners 0 0/);
    },
  );
});
