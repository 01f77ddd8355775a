import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, lstatSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { before, describe, it } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { InvalidArgumentError } from '../../src/errors.js';
import { TestCA } from '../../src/testing/test-ca.js';
import {
  WorkloadApiServer,
  type WorkloadApiIdentity,
} from '../../src/testing/workload-api-server.js';
import { open, rawClient, status } from './workload-api-server.helpers.js';

let identity: WorkloadApiIdentity;
before(async () => {
  const ca = await TestCA.create({ trustDomain: 'example.org' });
  identity = {
    x509Svids: [await ca.issueX509Svid('spiffe://example.org/web')],
    x509Bundle: ca.x509Bundle(),
  };
});

/** The status of one FetchX509SVID call on a fresh client: OK when a message arrived. */
async function probe(server: WorkloadApiServer): Promise<number> {
  const client = rawClient(server);
  try {
    const reader = open((r, md) => client.fetchX509Svid(r, md));
    const code = await Promise.race([
      reader.next().then(() => status.OK),
      reader.ended.then((e) => e.code),
    ]);
    reader.cancel();
    return code;
  } finally {
    client.close();
  }
}

function socketPathOf(server: WorkloadApiServer): string {
  return server.address.slice('unix://'.length);
}

describe('WorkloadApiServer lifecycle', () => {
  it('stops (socket removed, open streams end Unavailable) and restarts on the same socket', async () => {
    await using server = await WorkloadApiServer.create({ identity });
    const address = server.address;
    const path = socketPathOf(server);
    assert.ok(existsSync(path));

    const client = rawClient(server);
    const stream = open((r, md) => client.fetchX509Svid(r, md));
    await stream.next();
    await server.stop();
    client.close();
    assert.equal((await stream.ended).code, status.UNAVAILABLE);
    assert.equal(server.running, false);
    assert.equal(existsSync(path), false, 'socket file removed');
    assert.equal(await probe(server), status.UNAVAILABLE, 'nothing listens');

    await server.restart();
    assert.equal(server.running, true);
    assert.equal(server.address, address);
    assert.equal(await probe(server), status.OK);
    const ended = server.calls.find((c) => c.id === 1);
    assert.deepEqual(
      [ended?.status, ended?.statusMessage],
      ['Unavailable', 'the Workload API server stopped'],
    );
  });

  it('restarts on the same TCP port', async () => {
    await using server = await WorkloadApiServer.create({ identity, transport: 'tcp' });
    assert.match(server.address, /^tcp:\/\/127\.0\.0\.1:\d+$/);
    const address = server.address;
    assert.equal(await probe(server), status.OK);
    await server.stop();
    assert.equal(await probe(server), status.UNAVAILABLE);
    await server.restart();
    assert.equal(server.address, address);
    assert.equal(await probe(server), status.OK);
  });

  it('uses a given socket path, replaces a stale socket there, and never deletes other files', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wlapi-test-'));
    try {
      const socketPath = join(dir, 'custom.sock');
      const first = await WorkloadApiServer.create({ identity, socketPath });
      assert.equal(first.address, `unix://${socketPath}`);
      await first.close();
      assert.equal(existsSync(socketPath), false);
      assert.equal(existsSync(dir), true, 'a caller-chosen directory is left alone');

      // A stale socket, as a crashed agent leaves behind: a socket file nobody listens on.
      const net = createServer();
      const elsewhere = join(dir, 'elsewhere.sock');
      await new Promise<void>((resolve) => net.listen(elsewhere, resolve));
      renameSync(elsewhere, socketPath);
      await new Promise<void>((resolve) =>
        net.close(() => {
          resolve();
        }),
      );
      assert.ok(lstatSync(socketPath).isSocket());

      const second = await WorkloadApiServer.create({ identity, socketPath });
      assert.equal(await probe(second), status.OK);
      await second.close();

      const regular = join(dir, 'not-a-socket');
      writeFileSync(regular, 'data');
      await assert.rejects(WorkloadApiServer.create({ identity, socketPath: regular }));
      assert.equal(existsSync(regular), true, 'a regular file is not deleted');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('close() is idempotent, removes its temporary directory, and forbids restart', async () => {
    const server = await WorkloadApiServer.create({ identity });
    const dir = dirname(socketPathOf(server));
    await Promise.all([server.close(), server.close()]);
    await server.close();
    assert.equal(existsSync(dir), false);
    await assert.rejects(server.restart(), InvalidArgumentError);
  });

  it('await using closes the server at the end of the block', async () => {
    let dir: string;
    {
      await using server = await WorkloadApiServer.create({ identity });
      dir = dirname(socketPathOf(server));
      assert.ok(existsSync(dir));
    }
    assert.equal(existsSync(dir), false);
  });

  it('rejects bad options with InvalidArgumentError', async () => {
    const bad = [
      { transport: 'udp' as 'tcp' },
      { transport: 'tcp' as const, socketPath: '/tmp/x.sock' },
      { transport: 'unix' as const, port: 1234 },
      { transport: 'tcp' as const, port: 70000 },
      { transport: 'tcp' as const, port: -1 },
      { socketPath: '' },
    ];
    for (const options of bad) {
      await assert.rejects(
        WorkloadApiServer.create(options),
        InvalidArgumentError,
        JSON.stringify(options),
      );
    }
  });
});

describe('WorkloadApiServer leaves the process free to exit', () => {
  it('a child process that serves a call and closes the server exits by itself', async () => {
    const here = dirname(fileURLToPath(import.meta.url));
    const serverModule = pathToFileURL(join(here, '../../src/testing/workload-api-server.js')).href;
    const helpers = pathToFileURL(join(here, 'workload-api-server.helpers.js')).href;
    const script = `
      import { WorkloadApiServer } from ${JSON.stringify(serverModule)};
      import { open, rawClient } from ${JSON.stringify(helpers)};
      const server = await WorkloadApiServer.create();
      const tcp = await WorkloadApiServer.create({ transport: 'tcp' });
      for (const s of [server, tcp]) {
        const client = rawClient(s);
        const stream = open((r, md) => client.fetchX509Svid(r, md));
        const ended = await stream.ended;               // PermissionDenied: no identity
        s.delayResponses(60_000);                         // a pending timer must not hold the process
        const open2 = open((r, md) => client.fetchJwtBundles(r, md));
        await s.waitForCall((c) => c.method === 'FetchJWTBundles');
        await s.close();
        await open2.ended;
        client.close();
        console.log(ended.code);
      }
      console.log(server.address);
    `;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 8000);
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
      child.on('exit', (c, s) => {
        resolve([c, s]);
      }),
    );
    clearTimeout(timer);
    assert.equal(signal, null, `the child did not exit by itself; stderr: ${err}`);
    assert.equal(code, 0, err);
    const lines = out.trim().split('\n');
    assert.deepEqual(lines.slice(0, 2), [
      String(status.PERMISSION_DENIED),
      String(status.PERMISSION_DENIED),
    ]);
    const socketDir = dirname(lines[2]!.slice('unix://'.length));
    assert.equal(existsSync(socketDir), false, 'temporary directory removed');
  });
});
