import assert from 'node:assert/strict';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { InvalidX509SvidError } from '../../src/errors.js';
import { X509Svid } from '../../src/svid/x509-svid.js';
import type { X509SvidSource } from '../../src/svid/x509-svid-source.js';
import {
  TestCA,
  type RawX509Svid,
  type UncheckedX509SvidOptions,
} from '../../src/testing/test-ca.js';
import { assertThrows } from './x509-helpers.js';

function rejects(certs: string | Uint8Array, key: string | Uint8Array, pattern: RegExp): void {
  assertThrows(() => X509Svid.parse(certs, key), InvalidX509SvidError, pattern);
}

function rejectsRaw(certs: Uint8Array, key: Uint8Array, pattern: RegExp): void {
  assertThrows(() => X509Svid.parseRaw(certs, key), InvalidX509SvidError, pattern);
}

/** Asserts both the PEM and the DER parser reject `raw` with `pattern`. */
function rejectsBoth(raw: RawX509Svid, pattern: RegExp): void {
  rejects(raw.certificatesPem, raw.privateKeyPem, pattern);
  rejectsRaw(raw.certificatesDer, raw.privateKeyDer, pattern);
}

function keyBody(key: KeyObject): string {
  const pem = key.export({ type: 'pkcs8', format: 'pem' }) as string;
  return pem.split('\n').slice(1, 3).join('');
}

describe('X509Svid', () => {
  let ca: TestCA;
  let caI: TestCA;
  let good: RawX509Svid;
  let dir: string;
  const issue = (options: UncheckedX509SvidOptions) =>
    ca.issueX509SvidUnchecked({ uris: ['spiffe://example.org/web'], ...options });

  before(async () => {
    ca = await TestCA.create({ trustDomain: 'example.org' });
    caI = await TestCA.create({ trustDomain: 'example.org', intermediates: 1 });
    good = await issue({});
    dir = await mkdtemp(join(tmpdir(), 'x509svid-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  describe('parse and parseRaw', () => {
    it('accept a valid SVID (the positive control for every rule below)', () => {
      const svid = X509Svid.parse(good.certificatesPem, good.privateKeyPem);
      assert.equal(svid.id.toString(), 'spiffe://example.org/web');
      assert.equal(svid.certificates.length, 1);
      assert.equal(svid.hint, '');
      const raw = X509Svid.parseRaw(good.certificatesDer, good.privateKeyDer, { hint: 'h' });
      assert.ok(raw.id.equals(svid.id));
      assert.equal(raw.hint, 'h');
      assert.ok(raw.privateKey.equals(good.privateKey));
    });

    it('accept a leaf with its intermediate', async () => {
      const svid = await caI.issueX509Svid('spiffe://example.org/web');
      const { certificates, privateKey } = svid.marshal();
      const parsed = X509Svid.parse(certificates, privateKey);
      assert.equal(parsed.certificates.length, 2);
      assert.ok(parsed.certificates[1]!.raw.equals(caI.intermediates[0]!.raw));
    });

    it('accept certificates and key in one document, in either order', () => {
      for (const doc of [
        good.certificatesPem + good.privateKeyPem,
        good.privateKeyPem + good.certificatesPem,
      ]) {
        assert.equal(X509Svid.parse(doc, doc).id.toString(), 'spiffe://example.org/web');
      }
    });

    it('accept every supported key type', async () => {
      for (const keyType of ['ec-p256', 'ec-p384', 'rsa-2048', 'ed25519'] as const) {
        const raw = await issue({ keyType });
        assert.equal(X509Svid.parse(raw.certificatesPem, raw.privateKeyPem).id.path, '/web');
      }
    });

    it('reject unsupported key types: RSA under 2048 bits, P-521', async () => {
      rejectsBoth(await issue({ keyType: 'rsa-1024' }), /RSA key of 1024 bits/);
      rejectsBoth(await issue({ keyType: 'ec-p521' }), /unsupported EC curve secp521r1/);
    });

    it('reject input without certificates', () => {
      rejects(good.privateKeyPem, good.privateKeyPem, /no certificates found/);
      rejectsRaw(new Uint8Array(0), good.privateKeyDer, /no certificates found/);
    });

    it('reject input that is not PEM or not DER, or corrupt', () => {
      rejects('not PEM', good.privateKeyPem, /cannot parse PEM encoded certificate: no PEM blocks/);
      rejects(good.certificatesPem, 'not PEM', /cannot parse PEM encoded private key: no PEM/);
      const corrupt = '-----BEGIN CERTIFICATE-----\nQ09SUlVQVA==\n-----END CERTIFICATE-----\n';
      rejects(corrupt, good.privateKeyPem, /cannot parse PEM encoded certificate: malformed/);
      const corruptKey = '-----BEGIN PRIVATE KEY-----\nQ09SUlVQVA==\n-----END PRIVATE KEY-----\n';
      rejects(good.certificatesPem, corruptKey, /cannot parse PEM encoded private key/);
      rejectsRaw(new Uint8Array([1, 2, 3]), good.privateKeyDer, /cannot parse DER encoded/);
      rejectsRaw(
        good.certificatesDer,
        new Uint8Array([1, 2, 3]),
        /cannot parse DER encoded private key/,
      );
      rejectsRaw(good.certificatesDer, new Uint8Array(0), /no private key found/);
    });

    it('reject keys that are not PKCS#8 (EC PRIVATE KEY, RSA PRIVATE KEY) or missing', async () => {
      const sec1 = good.privateKey.export({ type: 'sec1', format: 'pem' }) as string;
      rejects(good.certificatesPem, sec1, /"EC PRIVATE KEY" block is not accepted, only PKCS#8/);
      const rsa = await issue({ keyType: 'rsa-2048' });
      const pkcs1 = rsa.privateKey.export({ type: 'pkcs1', format: 'pem' }) as string;
      rejects(rsa.certificatesPem, pkcs1, /"RSA PRIVATE KEY" block is not accepted/);
      rejects(good.certificatesPem, good.certificatesPem, /no private key found/);
      // Control: the same keys as PKCS#8 are accepted.
      X509Svid.parse(rsa.certificatesPem, rsa.privateKeyPem);
    });

    it('reject a key that does not match the leaf', async () => {
      const other = await issue({});
      rejects(good.certificatesPem, other.privateKeyPem, /does not match private key/);
      rejectsRaw(good.certificatesDer, other.privateKeyDer, /does not match private key/);
    });

    it('reject leaves without exactly one valid URI SAN', async () => {
      rejectsBoth(await issue({ uris: [] }), /certificate contains no URI SAN/);
      rejectsBoth(
        await issue({ uris: ['spiffe://example.org/a', 'spiffe://example.org/b'] }),
        /certificate contains more than one URI SAN/,
      );
      rejectsBoth(await issue({ uris: ['https://example.org/a'] }), /scheme is missing or invalid/);
      rejectsBoth(await issue({ uris: ['spiffe://Example.org/a'] }), /invalid SPIFFE ID/);
    });

    it('reject a leaf whose SPIFFE ID has a root path', async () => {
      rejectsBoth(await issue({ uris: ['spiffe://example.org'] }), /must have a non-root path/);
    });

    it('reject a leaf with the CA flag', async () => {
      rejectsBoth(
        await issue({ basicConstraints: { ca: true } }),
        /must not have CA flag set to true/,
      );
    });

    it("reject a leaf without 'digitalSignature' (or without keyUsage at all)", async () => {
      rejectsBoth(
        await issue({ keyUsage: ['keyEncipherment'] }),
        /must have 'digitalSignature' set as key usage/,
      );
      rejectsBoth(await issue({ keyUsage: false }), /must have 'digitalSignature'/);
    });

    it("reject a leaf with 'keyCertSign' or 'cRLSign'", async () => {
      rejectsBoth(
        await issue({ keyUsage: ['digitalSignature', 'keyCertSign'] }),
        /must not have 'keyCertSign' set as key usage/,
      );
      rejectsBoth(
        await issue({ keyUsage: ['digitalSignature', 'cRLSign'] }),
        /must not have 'cRLSign' set as key usage/,
      );
    });

    it("reject a signing certificate that is not a CA or lacks 'keyCertSign'", async () => {
      const notCa = await ca.createIntermediate({ basicConstraints: { ca: false } });
      rejectsBoth(
        await issue({ issuer: notCa }),
        /signing certificate 1 .* must have CA flag set to true/,
      );
      const noBc = await ca.createIntermediate({ basicConstraints: false });
      rejectsBoth(await issue({ issuer: noBc }), /must have CA flag set to true/);
      const noSign = await ca.createIntermediate({ keyUsage: ['cRLSign'] });
      rejectsBoth(await issue({ issuer: noSign }), /must have 'keyCertSign' set as key usage/);
      const noKu = await ca.createIntermediate({ keyUsage: false });
      rejectsBoth(await issue({ issuer: noKu }), /must have 'keyCertSign' set as key usage/);
      // Control: a proper intermediate.
      const inter = await ca.createIntermediate();
      const ok = await issue({ issuer: inter });
      assert.equal(X509Svid.parse(ok.certificatesPem, ok.privateKeyPem).certificates.length, 2);
    });

    it('do not check validity dates (that is verification)', async () => {
      const expired = await issue({ notBefore: new Date(0), notAfter: new Date(1000) });
      const svid = X509Svid.parse(expired.certificatesPem, expired.privateKeyPem);
      assert.equal(svid.expiresAt.getTime(), 1000);
    });

    it('reject a public key given as the private key', () => {
      const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      assertThrows(
        () => X509Svid.fromCertificates(good.certificates, publicKey),
        InvalidX509SvidError,
        /expected a private key, got a public key/,
      );
    });
  });

  describe('load', () => {
    it('reads separate files and one combined file', async () => {
      const certFile = join(dir, 'svid.pem');
      const keyFile = join(dir, 'svid.key');
      const both = join(dir, 'both.pem');
      await writeFile(certFile, good.certificatesPem);
      await writeFile(keyFile, good.privateKeyPem);
      await writeFile(both, good.privateKeyPem + good.certificatesPem);
      const a = await X509Svid.load(certFile, keyFile, { hint: 'x' });
      assert.equal(a.id.toString(), 'spiffe://example.org/web');
      assert.equal(a.hint, 'x');
      const b = await X509Svid.load(both, both);
      assert.ok(b.id.equals(a.id));
    });

    it('passes file system errors through and rejects bad content', async () => {
      await assert.rejects(
        X509Svid.load(join(dir, 'missing.pem'), join(dir, 'missing.key')),
        (err: NodeJS.ErrnoException) => err.code === 'ENOENT',
      );
      const bad = join(dir, 'bad.pem');
      await writeFile(bad, 'nothing here');
      await assert.rejects(X509Svid.load(bad, bad), InvalidX509SvidError);
    });

    it('honours an abort signal', async () => {
      const certFile = join(dir, 'svid2.pem');
      await writeFile(certFile, good.certificatesPem + good.privateKeyPem);
      await assert.rejects(
        X509Svid.load(certFile, certFile, { signal: AbortSignal.abort() }),
        (err: Error) => err.name === 'AbortError',
      );
    });
  });

  describe('values', () => {
    it('marshal and marshalRaw round-trip', async () => {
      const svid = await caI.issueX509Svid('spiffe://example.org/web', { hint: 'h' });
      const pem = svid.marshal();
      assert.match(pem.privateKey, /^-----BEGIN PRIVATE KEY-----/);
      const fromPem = X509Svid.parse(pem.certificates, pem.privateKey);
      const raw = svid.marshalRaw();
      const fromDer = X509Svid.parseRaw(raw.certificates, raw.privateKey);
      for (const copy of [fromPem, fromDer]) {
        assert.ok(copy.id.equals(svid.id));
        assert.deepEqual(
          copy.certificates.map((c) => c.raw),
          svid.certificates.map((c) => c.raw),
        );
        assert.ok(copy.privateKey.equals(svid.privateKey));
      }
      assert.deepEqual(
        Buffer.from(raw.certificates),
        Buffer.concat(svid.certificates.map((c) => c.raw)),
      );
    });

    it('are immutable; withHint returns a new SVID; an SVID is its own source', async () => {
      const svid = await ca.issueX509Svid('spiffe://example.org/web');
      assert.ok(Object.isFrozen(svid));
      assert.ok(Object.isFrozen(svid.certificates));
      const hinted = svid.withHint('internal');
      assert.equal(hinted.hint, 'internal');
      assert.equal(svid.hint, '');
      assert.ok(hinted.withHint('internal') === hinted);
      const source: X509SvidSource = svid;
      assert.ok(source.getX509Svid() === svid);
      assert.equal(svid.expiresAt.getTime(), new Date(svid.certificates[0]!.validTo).getTime());
    });

    it('never print the private key', async () => {
      const svid = await ca.issueX509Svid('spiffe://example.org/web', { hint: 'h' });
      const body = keyBody(svid.privateKey);
      for (const text of [String(svid), JSON.stringify(svid), inspect(svid, { depth: 5 })]) {
        assert.ok(!text.includes(body));
        assert.ok(!text.includes('PRIVATE KEY'));
        assert.match(text, /spiffe:\/\/example\.org\/web/);
      }
      const mismatch = await issue({});
      try {
        X509Svid.parse(good.certificatesPem, mismatch.privateKeyPem);
        assert.fail('expected a mismatch error');
      } catch (err) {
        assert.ok(!(err as Error).message.includes(keyBody(mismatch.privateKey)));
      }
    });
  });
});
