import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const cli = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

describe('spiffe-sdk demo', () => {
  it('accepts the authorized client, refuses the intruder and a bad JWT, survives rotation, exits 0', async () => {
    const child = spawn(process.execPath, [cli, 'demo', '--duration', '3'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const [code] = (await once(child, 'exit')) as [number | null];
    assert.equal(code, 0, `demo failed:\n${out}\n${err}`);
    assert.match(out, /ACCEPTED spiffe:\/\/example\.org\/web: 200/);
    assert.match(out, /JWT-SVID subject spiffe:\/\/example\.org\/web/);
    assert.match(out, /REFUSED {2}spiffe:\/\/example\.org\/intruder/);
    assert.match(out, /REFUSED {2}a request without a valid JWT-SVID: 401/);
    assert.match(out, /rotation 1: server now presents/);
    assert.match(out, /client sees the server's new SVID/);
    assert.doesNotMatch(err, /UNEXPECTED/);
  });

  it('rejects a too short --duration with exit code 2', async () => {
    const child = spawn(process.execPath, [cli, 'demo', '--duration', '1'], { stdio: 'ignore' });
    const [code] = (await once(child, 'exit')) as [number | null];
    assert.equal(code, 2);
  });
});
