import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { InvalidEndpointAddressError, type EndpointAddressRule } from '../../src/errors.js';
import {
  getDefaultEndpointAddress,
  parseEndpointAddress,
  resolveEndpointAddress,
  SPIFFE_ENDPOINT_SOCKET,
  WorkloadApiClient,
} from '../../src/workloadapi/index.js';

function rejects(address: string, rule: EndpointAddressRule, platform?: NodeJS.Platform): void {
  assert.throws(
    () => parseEndpointAddress(address, platform === undefined ? {} : { platform }),
    (err: unknown) => {
      assert.ok(err instanceof InvalidEndpointAddressError, `${address}: ${String(err)}`);
      assert.equal(err.code, 'ERR_SPIFFE_ENDPOINT_INVALID');
      assert.equal(err.rule, rule, `${address}: ${err.message}`);
      return true;
    },
  );
}

describe('parseEndpointAddress: accepted forms (Workload Endpoint §4)', () => {
  const accepted: readonly [string, Record<string, unknown>][] = [
    [
      'unix:///run/spire/agent.sock',
      { scheme: 'unix', path: '/run/spire/agent.sock', grpcTarget: 'unix:///run/spire/agent.sock' },
    ],
    ['unix:/run/agent.sock', { scheme: 'unix', path: '/run/agent.sock' }],
    ['UNIX:///tmp/a', { scheme: 'unix', path: '/tmp/a' }],
    ['unix:///tmp/with%20space', { scheme: 'unix', path: '/tmp/with space' }],
    ['unix:///', { scheme: 'unix', path: '/' }],
    [
      'tcp://127.0.0.1:8081',
      { scheme: 'tcp', host: '127.0.0.1', port: 8081, grpcTarget: 'ipv4:127.0.0.1:8081' },
    ],
    ['tcp://1.2.3.4:1', { host: '1.2.3.4', port: 1 }],
    ['tcp://10.0.0.1:65535', { port: 65535 }],
    ['tcp://[::1]:8081', { host: '::1', port: 8081, grpcTarget: 'ipv6:[::1]:8081' }],
    ['tcp://[fe80::1:2]:9', { host: 'fe80::1:2', port: 9 }],
  ];
  for (const [address, expected] of accepted) {
    it(`accepts ${address}`, () => {
      const parsed = parseEndpointAddress(address);
      assert.equal(parsed.address, address);
      for (const [key, value] of Object.entries(expected)) {
        assert.deepEqual((parsed as unknown as Record<string, unknown>)[key], value, key);
      }
      assert.ok(Object.isFrozen(parsed));
    });
  }
});

describe('parseEndpointAddress: every rejection rule', () => {
  const rejected: readonly [string, EndpointAddressRule][] = [
    ['', 'missing'],
    ['   ', 'missing'],
    // Not URIs at all, or characters a URI cannot hold.
    ['unix:///tmp/a b', 'not-a-uri'],
    ['unix:///tmp/\t', 'not-a-uri'],
    ['unix:///tmp/é', 'not-a-uri'],
    ['unix:///tmp/%zz', 'not-a-uri'],
    // Schemes.
    ['/run/agent.sock', 'scheme'],
    ['agent.sock', 'scheme'],
    ['http://127.0.0.1:80', 'scheme'],
    ['dns:///localhost:80', 'scheme'],
    ['unixx:///tmp/a', 'scheme'],
    // Query and fragment are rejected for every scheme.
    ['unix:///tmp/a?x=1', 'query'],
    ['unix:///tmp/a#frag', 'fragment'],
    ['tcp://1.2.3.4:5?x', 'query'],
    ['tcp://1.2.3.4:5#x', 'fragment'],
    // unix: no authority, an absolute path.
    ['unix://host/tmp/a', 'unix-authority'],
    ['unix://localhost/tmp/a', 'unix-authority'],
    ['unix://user@/tmp/a', 'userinfo'],
    ['unix:tmp/a', 'unix-path'],
    ['unix:', 'unix-path'],
    ['unix://', 'unix-path'],
    ['unix:///tmp/%00x', 'unix-path'],
    // tcp: IP:port only.
    ['tcp:1.2.3.4:5', 'tcp-host'],
    ['tcp://', 'tcp-host'],
    ['tcp://:80', 'tcp-host'],
    ['tcp://localhost:8081', 'tcp-host'],
    ['tcp://example.org:8081', 'tcp-host'],
    ['tcp://01.2.3.4:5', 'tcp-host'],
    ['tcp://1.2.3:5', 'tcp-host'],
    ['tcp://::1:5', 'tcp-host'],
    ['tcp://[::1', 'tcp-host'],
    ['tcp://[::1]x:5', 'tcp-host'],
    ['tcp://[1.2.3.4]:5', 'tcp-host'],
    ['tcp://[fe80::1%25eth0]:5', 'tcp-host'],
    ['tcp://user@1.2.3.4:5', 'userinfo'],
    ['tcp://1.2.3.4', 'tcp-port'],
    ['tcp://1.2.3.4:', 'tcp-port'],
    ['tcp://[::1]', 'tcp-port'],
    ['tcp://1.2.3.4:0', 'tcp-port'],
    ['tcp://1.2.3.4:65536', 'tcp-port'],
    ['tcp://1.2.3.4:http', 'tcp-port'],
    ['tcp://1.2.3.4:-1', 'tcp-port'],
    ['tcp://1.2.3.4:5/', 'tcp-path'],
    ['tcp://1.2.3.4:5/path', 'tcp-path'],
  ];
  for (const [address, rule] of rejected) {
    it(`rejects ${JSON.stringify(address)} (${rule})`, () => {
      rejects(address, rule);
    });
  }

  it('names the rule and the address in the message', () => {
    assert.throws(
      () => parseEndpointAddress('tcp://localhost:8081'),
      /"tcp:\/\/localhost:8081".*not an IP address/,
    );
  });

  it('rejects a non-string with rule "missing"', () => {
    rejects(42 as unknown as string, 'missing');
  });
});

describe('parseEndpointAddress: Windows named pipes (npipe:)', () => {
  it('accepts opaque pipe names on win32 and maps them to \\\\.\\pipe\\<name>', () => {
    const a = parseEndpointAddress('npipe:agent', { platform: 'win32' });
    assert.equal(a.scheme, 'npipe');
    assert.equal(a.path, '\\\\.\\pipe\\agent');
    assert.equal(a.grpcTarget, 'unix:\\\\.\\pipe\\agent');
    assert.equal(
      parseEndpointAddress('npipe:spire/agent', { platform: 'win32' }).path,
      '\\\\.\\pipe\\spire\\agent',
    );
    assert.equal(
      parseEndpointAddress('npipe:spire\\agent', { platform: 'win32' }).path,
      '\\\\.\\pipe\\spire\\agent',
    );
  });

  const rejected: readonly [string, EndpointAddressRule][] = [
    ['npipe://agent', 'npipe-name'],
    ['npipe:', 'npipe-name'],
    ['npipe:a//b', 'npipe-name'],
    ['npipe:../x', 'npipe-name'],
    ['npipe:a\\..\\x', 'npipe-name'],
    ['npipe:./x', 'npipe-name'],
    ['npipe:agent?x', 'query'],
    ['npipe:agent#x', 'fragment'],
  ];
  for (const [address, rule] of rejected) {
    it(`rejects ${JSON.stringify(address)} (${rule})`, () => {
      rejects(address, rule, 'win32');
    });
  }

  it('rejects npipe: on platforms without named pipes (positive control above: win32)', () => {
    rejects('npipe:agent', 'platform', 'linux');
    rejects('npipe:agent', 'platform', 'darwin');
  });
});

describe('the endpoint environment variable', () => {
  const saved = process.env[SPIFFE_ENDPOINT_SOCKET];
  afterEach(() => {
    if (saved === undefined) delete process.env['SPIFFE_ENDPOINT_SOCKET'];
    else process.env[SPIFFE_ENDPOINT_SOCKET] = saved;
  });

  it('is the fallback when no address is given', () => {
    process.env[SPIFFE_ENDPOINT_SOCKET] = 'unix:///from/env.sock';
    assert.equal(getDefaultEndpointAddress(), 'unix:///from/env.sock');
    assert.equal(resolveEndpointAddress().path, '/from/env.sock');
    assert.equal(new WorkloadApiClient().endpoint.path, '/from/env.sock');
  });

  it('is ignored when an address is given', () => {
    process.env[SPIFFE_ENDPOINT_SOCKET] = 'unix:///from/env.sock';
    assert.equal(resolveEndpointAddress('tcp://127.0.0.1:1').host, '127.0.0.1');
  });

  it('missing or empty, with no address: rule "missing"', () => {
    delete process.env['SPIFFE_ENDPOINT_SOCKET'];
    assert.equal(getDefaultEndpointAddress(), undefined);
    assert.throws(
      () => new WorkloadApiClient(),
      (err: unknown) => err instanceof InvalidEndpointAddressError && err.rule === 'missing',
    );
    process.env[SPIFFE_ENDPOINT_SOCKET] = '';
    assert.equal(getDefaultEndpointAddress(), undefined);
    assert.throws(
      () => resolveEndpointAddress(),
      (err: unknown) => err instanceof InvalidEndpointAddressError && err.rule === 'missing',
    );
  });

  it('an invalid value is rejected by the client constructor with its rule', () => {
    process.env[SPIFFE_ENDPOINT_SOCKET] = 'tcp://localhost:1';
    assert.throws(
      () => new WorkloadApiClient(),
      (err: unknown) => err instanceof InvalidEndpointAddressError && err.rule === 'tcp-host',
    );
  });
});
