import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { WorkloadApiClient } from '../../src/workloadapi/index.js';

const cli = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

describe('spiffe-sdk dev-agent', () => {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    it(`prints the socket to export, serves it, and on ${signal} exits 0 and removes the socket`, async () => {
      const child = spawn(
        process.execPath,
        [cli, 'dev-agent', '--id', 'spiffe://example.org/cli'],
        {
          stdio: ['ignore', 'pipe', 'inherit'],
        },
      );
      const exited = once(child, 'exit');
      let address: string | undefined;
      for await (const line of createInterface({ input: child.stdout })) {
        const match = /^export SPIFFE_ENDPOINT_SOCKET=(.+)$/.exec(line);
        if (match) {
          address = match[1];
          break;
        }
      }
      assert.ok(address, 'the agent printed its address');
      const client = new WorkloadApiClient({ address });
      const svid = await client.fetchX509Svid();
      assert.equal(svid.id.toString(), 'spiffe://example.org/cli');
      await client.close();
      child.kill(signal);
      const [code] = (await exited) as [number | null];
      assert.equal(code, 0);
      assert.equal(existsSync(new URL(address).pathname), false);
    });
  }

  it('refuses bad arguments with exit code 2', async () => {
    const child = spawn(
      process.execPath,
      [cli, 'dev-agent', '--id', 'spiffe://other.org/x', '--trust-domain', 'example.org'],
      {
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const [code] = (await once(child, 'exit')) as [number | null];
    assert.equal(code, 2);
    assert.match(stderr, /not in the dev agent's trust domain/);
  });
});
