import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { before, describe, it } from 'node:test';
import { InvalidArgumentError } from '../../src/errors.js';
import { certificateFacts } from '../../src/internal/x509/facts.js';
import { TrustDomain } from '../../src/spiffeid/index.js';
import { X509Svid } from '../../src/svid/x509-svid.js';
import { TestCA } from '../../src/testing/test-ca.js';

const td = TrustDomain.parse('example.org');

function chainVerifies(chain: readonly X509Certificate[], root: X509Certificate): boolean {
  const all = [...chain, root];
  for (let i = 0; i + 1 < all.length; i++) {
    const cert = all[i]!;
    const issuer = all[i + 1]!;
    if (!cert.checkIssued(issuer) || !cert.verify(issuer.publicKey)) return false;
  }
  return true;
}

describe('TestCA', () => {
  let ca: TestCA;
  before(async () => {
    ca = await TestCA.create({ trustDomain: 'example.org', intermediates: 1 });
  });

  it('has one self-signed root with a CA profile and the trust domain URI', () => {
    assert.equal(ca.trustDomain.name, 'example.org');
    assert.equal(ca.x509Authorities.length, 1);
    const root = ca.x509Authorities[0]!;
    assert.ok(root.checkIssued(root) && root.verify(root.publicKey));
    const facts = certificateFacts(root);
    assert.equal(facts.basicConstraints?.ca, true);
    assert.equal(facts.keyUsage?.keyCertSign, true);
    assert.deepEqual(facts.uriSans, ['spiffe://example.org']);
    assert.ok(ca.x509Bundle().trustDomain.equals(td));
    assert.ok(ca.x509Bundle().hasAuthority(root));
  });

  it('issues valid SVIDs that chain through the intermediates to the root', async () => {
    const svid = await ca.issueX509Svid('spiffe://example.org/web', {
      hint: 'internal',
      dnsNames: ['web.example.org'],
    });
    assert.equal(svid.id.toString(), 'spiffe://example.org/web');
    assert.equal(svid.hint, 'internal');
    assert.equal(svid.certificates.length, 2);
    assert.ok(svid.certificates[1]!.raw.equals(ca.intermediates[0]!.raw));
    assert.ok(chainVerifies(svid.certificates, ca.x509Authorities[0]!));
    const leaf = certificateFacts(svid.certificates[0]!);
    assert.equal(leaf.keyUsage?.digitalSignature, true);
    assert.equal(leaf.basicConstraints?.ca, false);
    assert.deepEqual(leaf.dnsSans, ['web.example.org']);
    // It round-trips through the SVID parser, which checks every X509-SVID rule.
    const { certificates, privateKey } = svid.marshal();
    assert.ok(X509Svid.parse(certificates, privateKey).id.equals(svid.id));
  });

  for (const keyType of ['ec-p256', 'ec-p384', 'rsa-2048', 'ed25519'] as const) {
    it(`supports ${keyType} for CA and SVID keys`, async () => {
      const other = await TestCA.create({ trustDomain: td, keyType });
      const svid = await other.issueX509Svid('spiffe://example.org/k', { keyType });
      assert.ok(chainVerifies(svid.certificates, other.x509Authorities[0]!));
      assert.equal(svid.certificates.length, 1);
    });
  }

  it('clamps the SVID lifetime to its issuers and honours the fixed clock', async () => {
    const now = new Date('2030-01-01T00:00:00Z');
    const short = await TestCA.create({ trustDomain: td, ttlSeconds: 600, now });
    const svid = await short.issueX509Svid('spiffe://example.org/web', { ttlSeconds: 3600 });
    const facts = certificateFacts(svid.certificates[0]!);
    assert.equal(facts.notBefore, now.getTime());
    assert.equal(facts.notAfter, now.getTime() + 600_000);
  });

  it('refuses to issue a valid SVID for another trust domain or a root path', async () => {
    await assert.rejects(ca.issueX509Svid('spiffe://other.org/web'), InvalidArgumentError);
    await assert.rejects(ca.issueX509Svid('spiffe://example.org'), InvalidArgumentError);
  });

  it('issues unchecked certificates with the requested defects', async () => {
    const other = await TestCA.create({ trustDomain: 'other.org' });
    const raw = await ca.issueX509SvidUnchecked({
      uris: ['spiffe://Example.org/a', 'https://x'],
      dnsNames: ['x, URI:spiffe://example.org/admin'],
      basicConstraints: { ca: true, pathLen: 3 },
      keyUsage: ['digitalSignature', 'keyCertSign', 'cRLSign'],
      extensions: [{ oid: '1.3.6.1.4.1.99999.1', critical: true, value: new Uint8Array([5, 0]) }],
      signatureHash: 'SHA-1',
      signer: other,
      chain: [],
    });
    const facts = certificateFacts(raw.certificates[0]!);
    assert.deepEqual(facts.uriSans, ['spiffe://Example.org/a', 'https://x']);
    assert.deepEqual(facts.dnsSans, ['x, URI:spiffe://example.org/admin']);
    assert.deepEqual(facts.basicConstraints, { ca: true, pathLen: 3 });
    assert.equal(facts.keyUsage?.keyCertSign, true);
    assert.equal(facts.keyUsage.cRLSign, true);
    assert.deepEqual(facts.unhandledCriticalExtensions, ['1.3.6.1.4.1.99999.1']);
    assert.equal(facts.signatureAlgorithm, '1.2.840.10045.4.1');
    assert.ok(raw.certificates[0]!.verify(other.x509Authorities[0]!.publicKey));
    assert.equal(raw.certificates.length, 1);
    // Every encoding describes the same material.
    assert.equal(raw.certificatesPem, raw.certificates[0]!.toString());
    assert.deepEqual(Buffer.from(raw.certificatesDer), raw.certificates[0]!.raw);
    assert.equal(raw.privateKey.export({ type: 'pkcs8', format: 'pem' }), raw.privateKeyPem);
    assert.deepEqual(
      Buffer.from(raw.privateKeyDer),
      raw.privateKey.export({ type: 'pkcs8', format: 'der' }),
    );
  });

  it('can omit extensions and the URI SAN, and set validity freely', async () => {
    const notBefore = new Date('2020-01-01T00:00:00Z');
    const notAfter = new Date('2020-01-02T00:00:00Z');
    const raw = await ca.issueX509SvidUnchecked({
      basicConstraints: false,
      keyUsage: false,
      extKeyUsage: false,
      notBefore,
      notAfter,
    });
    const facts = certificateFacts(raw.certificates[0]!);
    assert.equal(facts.basicConstraints, undefined);
    assert.equal(facts.keyUsage, undefined);
    assert.deepEqual(facts.uriSans, []);
    assert.equal(facts.notBefore, notBefore.getTime());
    assert.equal(facts.notAfter, notAfter.getTime());
  });

  it('creates intermediates with chosen constraints that can issue SVIDs', async () => {
    const inter = await ca.createIntermediate({
      basicConstraints: { ca: true, pathLen: 0 },
      keyUsage: ['keyCertSign'],
      nameConstraints: { permittedUris: ['example.org'], excludedDns: ['bad.example.org'] },
    });
    const facts = certificateFacts(inter.certificate);
    assert.deepEqual(facts.basicConstraints, { ca: true, pathLen: 0 });
    assert.deepEqual(facts.nameConstraints?.permittedUri, ['example.org']);
    assert.deepEqual(facts.nameConstraints.excludedDns, ['bad.example.org']);
    assert.equal(facts.nameConstraints.critical, true);
    assert.equal(inter.chain.length, 2); // itself and the CA's intermediate
    const svid = await ca.issueX509Svid('spiffe://example.org/nc', { issuer: inter });
    assert.equal(svid.certificates.length, 3);
    assert.ok(chainVerifies(svid.certificates, ca.x509Authorities[0]!));
  });

  it('rotates: the new root signs, both are trusted until the old one is retired', async () => {
    const rotating = await TestCA.create({ trustDomain: td });
    const oldRoot = rotating.x509Authorities[0]!;
    const before = await rotating.issueX509Svid('spiffe://example.org/w');
    await rotating.rotateX509Authority();
    assert.equal(rotating.x509Authorities.length, 2);
    const after = await rotating.issueX509Svid('spiffe://example.org/w');
    const newRoot = rotating.x509Authorities[1]!;
    assert.ok(chainVerifies(before.certificates, oldRoot));
    assert.ok(chainVerifies(after.certificates, newRoot));
    assert.ok(!chainVerifies(after.certificates, oldRoot));
    rotating.retireOldX509Authorities();
    assert.equal(rotating.x509Authorities.length, 1);
    assert.ok(rotating.x509Bundle().hasAuthority(newRoot));
    assert.ok(!rotating.x509Bundle().hasAuthority(oldRoot));
  });

  it('lets two CAs share a root subject (same DN, different keys)', async () => {
    const a = await TestCA.create({ trustDomain: 'a.org', rootSubject: 'O=SPIFFE, CN=Root' });
    const b = await TestCA.create({ trustDomain: 'b.org', rootSubject: 'O=SPIFFE, CN=Root' });
    assert.equal(a.x509Authorities[0]!.subject, b.x509Authorities[0]!.subject);
    assert.ok(!a.x509Authorities[0]!.verify(b.x509Authorities[0]!.publicKey));
  });

  it('honours the remaining unchecked and intermediate options', async () => {
    const other = await TestCA.create({ trustDomain: 'other.org' });
    const raw = await ca.issueX509SvidUnchecked({
      uris: ['spiffe://example.org/x'],
      subject: 'O=Test, CN=leaf',
      sanCritical: true,
      keyUsageCritical: false,
      extKeyUsage: ['1.3.6.1.5.5.7.3.2'],
    });
    const leaf = raw.certificates[0]!;
    assert.equal(leaf.subject, 'O=Test\nCN=leaf');
    const facts = certificateFacts(leaf);
    assert.ok(facts.criticalExtensions.includes('2.5.29.17'));
    assert.ok(!facts.criticalExtensions.includes('2.5.29.15'));
    assert.deepEqual(leaf.keyUsage, ['1.3.6.1.5.5.7.3.2']); // Node's keyUsage is the EKU list
    const foreign = await ca.createIntermediate({ signer: other, uri: false });
    assert.ok(foreign.certificate.verify(other.x509Authorities[0]!.publicKey));
    assert.deepEqual(certificateFacts(foreign.certificate).uriSans, []);
    assert.ok(foreign.root === other.x509Authorities[0]);
  });

  it('refuses issuers that a TestCA did not make', async () => {
    const fake = {
      certificate: ca.x509Authorities[0]!,
      privateKey: ca.rootCertificate.privateKey,
      chain: [],
      root: ca.x509Authorities[0]!,
    };
    await assert.rejects(ca.issueX509SvidUnchecked({ issuer: fake }), InvalidArgumentError);
    await assert.rejects(ca.createIntermediate({ reuseKeyOf: fake }), InvalidArgumentError);
    // Control: the real object is accepted.
    const ok = await ca.issueX509SvidUnchecked({ issuer: ca.rootCertificate });
    assert.ok(ok.certificates[0]!.verify(ca.x509Authorities[0]!.publicKey));
  });

  it('rejects bad options', async () => {
    await assert.rejects(
      TestCA.create({ trustDomain: td, intermediates: -1 }),
      InvalidArgumentError,
    );
    await assert.rejects(TestCA.create({ trustDomain: td, ttlSeconds: 0 }), InvalidArgumentError);
  });
});
