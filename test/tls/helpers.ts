// Shared fixtures for the tls tests: two trust domains (a.org, b.org), their SVIDs, cross-trust-
// domain forgeries, and small helpers for real TLS over loopback. Every wait is on an event.
import assert from 'node:assert/strict';
import type { X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import type http2 from 'node:http2';
import type net from 'node:net';
import tls from 'node:tls';
import { X509BundleSet } from '../../src/bundle/x509-bundle-set.js';
import type { X509Svid } from '../../src/svid/x509-svid.js';
import { type RawX509Svid, TestCA } from '../../src/testing/index.js';

export const VERSIONS = ['TLSv1.3', 'TLSv1.2'] as const;
export type Version = (typeof VERSIONS)[number];

export interface World {
  readonly a: TestCA;
  readonly b: TestCA;
  /** a.org and b.org bundles: OpenSSL's union store trusts both CAs. */
  readonly bundles: X509BundleSet;
  readonly srvA: X509Svid;
  readonly cliA: X509Svid;
  readonly cliB: X509Svid;
  readonly srvB: X509Svid;
  /** Claims spiffe://a.org/server but is signed by b.org's CA. */
  readonly evilSrvA: RawX509Svid;
  /** Claims spiffe://a.org/client but is signed by b.org's CA. */
  readonly evilCliA: RawX509Svid;
}

let cached: Promise<World> | undefined;

/** The shared fixture world (created once per test file). */
export function world(): Promise<World> {
  cached ??= (async () => {
    const [a, b] = await Promise.all([
      TestCA.create({ trustDomain: 'a.org' }),
      TestCA.create({ trustDomain: 'b.org' }),
    ]);
    const [srvA, cliA, cliB, srvB, evilSrvA, evilCliA] = await Promise.all([
      a.issueX509Svid('spiffe://a.org/server'),
      a.issueX509Svid('spiffe://a.org/client'),
      b.issueX509Svid('spiffe://b.org/client'),
      b.issueX509Svid('spiffe://b.org/server'),
      b.issueX509SvidUnchecked({ uris: ['spiffe://a.org/server'] }),
      b.issueX509SvidUnchecked({ uris: ['spiffe://a.org/client'] }),
    ]);
    return {
      a,
      b,
      bundles: X509BundleSet.of(a.x509Bundle(), b.x509Bundle()),
      srvA,
      cliA,
      cliB,
      srvB,
      evilSrvA,
      evilCliA,
    };
  })();
  return cached;
}

/** PEM key and chain of an SVID (or raw SVID), for plain Node clients and servers. */
export function pem(svid: X509Svid | RawX509Svid): { key: string; cert: string } {
  if ('certificatesPem' in svid) return { key: svid.privateKeyPem, cert: svid.certificatesPem };
  const m = svid.marshal();
  return { key: m.privateKey, cert: m.certificates };
}

/** PEM of certificates, for a plain `ca` option. */
export function pems(certs: readonly X509Certificate[]): string[] {
  return certs.map((c) => c.toString());
}

/** Resolves when `emitter` emits 'close' (unlike events.once, an 'error' first does not reject). */
export function closed(emitter: {
  once(event: 'close', listener: () => void): unknown;
}): Promise<void> {
  return new Promise((resolve) => {
    emitter.once('close', resolve);
  });
}

/** Starts listening on 127.0.0.1 and returns the port. */
export async function listen(server: net.Server): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  assert.ok(address !== null && typeof address === 'object');
  return address.port;
}

/** Closes a server and every connection it still has. */
export async function close(server: net.Server | http2.Http2SecureServer): Promise<void> {
  const s = server as net.Server & { closeAllConnections?: () => void };
  const done = once(s, 'close');
  s.close();
  s.closeAllConnections?.();
  await done;
}

/** What happened to a client connection. */
export type Outcome = { ok: true; data: string } | { ok: false; error: Error | undefined };

/**
 * Waits until the connection either received data ending with `\n` from the server (ok), or
 * failed / closed without it. A TLS 1.3 client that the server refuses after the handshake sees
 * 'secureConnect' first and then a reset, so "ok" requires the server's answer.
 */
export function outcome(socket: tls.TLSSocket): Promise<Outcome> {
  return new Promise((resolve) => {
    let data = '';
    let error: Error | undefined;
    let settled = false;
    const settle = (o: Outcome): void => {
      if (settled) return;
      settled = true;
      resolve(o);
      socket.destroy();
    };
    socket.on('data', (chunk: Buffer) => {
      data += chunk.toString();
      if (data.endsWith('\n')) settle({ ok: true, data });
    });
    socket.on('error', (err: Error) => {
      error = err;
    });
    socket.on('close', () => {
      settle({ ok: false, error });
    });
  });
}

/** A plain Node TLS client (no SDK), e.g. presenting a forged or malformed certificate. */
export function plainConnect(
  port: number,
  options: tls.ConnectionOptions & { version?: Version },
): tls.TLSSocket {
  const { version, ...rest } = options;
  return tls.connect({
    host: '127.0.0.1',
    port,
    checkServerIdentity: () => undefined,
    ...(version === undefined ? {} : { minVersion: version, maxVersion: version }),
    ...rest,
  });
}

/**
 * Asks for a TLS 1.2 renegotiation: `null` when it completed, the error when it was refused. The
 * socket reads while waiting, otherwise a refusal alert would never be processed.
 */
export function tryRenegotiate(socket: tls.TLSSocket): Promise<Error | null> {
  return new Promise((resolve) => {
    socket.once('error', resolve);
    socket.once('close', () => {
      resolve(new Error('closed during renegotiation'));
    });
    socket.resume();
    const started = socket.renegotiate({ rejectUnauthorized: false }, (err) => {
      resolve(err ?? null);
    });
    if (!started) resolve(new Error('renegotiate() returned false'));
  });
}

let chainProbe: Promise<boolean> | undefined;

/**
 * Whether this Node version shows a TLS server the intermediates its client sent (some versions
 * drop them: nodejs/node#65579). Probed once with plain Node TLS.
 */
export function serverSeesClientIntermediates(): Promise<boolean> {
  chainProbe ??= (async () => {
    const w = await world();
    const inter = await w.a.createIntermediate();
    const svid = await w.a.issueX509Svid('spiffe://a.org/probe', { issuer: inter });
    let seen = false;
    const server = tls.createServer(
      { ...pem(w.srvA), ca: pems(w.a.x509Authorities), requestCert: true },
      (s) => {
        seen = s.getPeerX509Certificate()?.issuerCertificate !== undefined;
        s.end('x\n');
      },
    );
    const port = await listen(server);
    await outcome(plainConnect(port, { ...pem(svid), ca: pems(w.a.x509Authorities) }));
    await close(server);
    return seen;
  })();
  return chainProbe;
}

/** Counts `tls.createSecureContext` calls (Node's own calls included) while `fn` runs. */
export async function countSecureContexts(fn: () => Promise<void>): Promise<number> {
  const original = tls.createSecureContext;
  let count = 0;
  tls.createSecureContext = (options) => {
    count += 1;
    return original(options);
  };
  try {
    await fn();
  } finally {
    tls.createSecureContext = original;
  }
  return count;
}

/** Runs `fn` with `process.env[name] = value`, restoring it afterwards. */
export async function withEnv(name: string, value: string, fn: () => Promise<void>): Promise<void> {
  const old = process.env[name];
  process.env[name] = value;
  try {
    await fn();
  } finally {
    if (old === undefined) Reflect.deleteProperty(process.env, name);
    else process.env[name] = old;
  }
}

/** Records every uncaught exception while `fn` runs (a test must assert the list is empty). */
export async function catchUncaught(fn: () => Promise<void>): Promise<unknown[]> {
  const seen: unknown[] = [];
  const listener = (err: unknown): void => {
    seen.push(err);
  };
  process.on('uncaughtException', listener);
  try {
    await fn();
  } finally {
    process.off('uncaughtException', listener);
  }
  return seen;
}
