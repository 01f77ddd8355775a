import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { Null, ObjectIdentifier, Sequence } from 'asn1js';
import { InvalidX509SvidError, X509SvidVerificationError } from '../../src/errors.js';
import { certificateFacts, keyUsageNames } from '../../src/internal/x509/facts.js';
import { verifyX509Svid } from '../../src/svid/verify-x509-svid.js';
import { X509Svid } from '../../src/svid/x509-svid.js';
import { TestCA, type KeyUsageName } from '../../src/testing/test-ca.js';

const der = (node: { toBER(): ArrayBuffer }): Uint8Array => new Uint8Array(node.toBER());

describe('certificateFacts', () => {
  let ca: TestCA;
  before(async () => {
    ca = await TestCA.create({ trustDomain: 'example.org' });
  });

  it('reads URI and DNS SANs from DER, not from Node’s joined string', async () => {
    const raw = await ca.issueX509SvidUnchecked({
      uris: ['spiffe://example.org/lowpriv'],
      dnsNames: ['x.example, URI:spiffe://example.org/admin', 'b.example'],
    });
    const facts = certificateFacts(raw.certificates[0]!);
    assert.deepEqual(facts.uriSans, ['spiffe://example.org/lowpriv']);
    assert.deepEqual(facts.dnsSans, ['x.example, URI:spiffe://example.org/admin', 'b.example']);
    assert.equal(facts.spiffeId?.toString(), 'spiffe://example.org/lowpriv');
    assert.equal(facts.spiffeIdProblem, undefined);
  });

  it('reads every keyUsage bit, and tells an absent extension from an empty one', async () => {
    const names: KeyUsageName[] = [
      'digitalSignature',
      'nonRepudiation',
      'keyEncipherment',
      'dataEncipherment',
      'keyAgreement',
      'keyCertSign',
      'cRLSign',
      'encipherOnly',
      'decipherOnly',
    ];
    for (const name of names) {
      const raw = await ca.issueX509SvidUnchecked({
        uris: ['spiffe://example.org/x'],
        keyUsage: [name],
      });
      const expected = name === 'nonRepudiation' ? 'contentCommitment' : name;
      assert.deepEqual(keyUsageNames(certificateFacts(raw.certificates[0]!).keyUsage), [expected]);
    }
    const empty = await ca.issueX509SvidUnchecked({ keyUsage: [] });
    assert.deepEqual(keyUsageNames(certificateFacts(empty.certificates[0]!).keyUsage), []);
    assert.notEqual(certificateFacts(empty.certificates[0]!).keyUsage, undefined);
    const absent = await ca.issueX509SvidUnchecked({ keyUsage: false });
    assert.equal(certificateFacts(absent.certificates[0]!).keyUsage, undefined);
  });

  it('reads basicConstraints and name constraints', async () => {
    const inter = await ca.createIntermediate({
      basicConstraints: { ca: true, pathLen: 2 },
      nameConstraints: {
        permittedUris: ['example.org'],
        excludedUris: ['.bad.org'],
        permittedDns: ['example.com'],
        excludedDns: ['x.example.com'],
        permittedEmails: ['example.com'],
      },
    });
    const facts = certificateFacts(inter.certificate);
    assert.deepEqual(facts.basicConstraints, { ca: true, pathLen: 2 });
    assert.deepEqual(facts.nameConstraints, {
      critical: true,
      permittedDns: ['example.com'],
      excludedDns: ['x.example.com'],
      permittedUri: ['example.org'],
      excludedUri: ['.bad.org'],
      uncheckedForms: ['rfc822Name'],
    });
    assert.deepEqual(facts.criticalExtensions, ['2.5.29.19', '2.5.29.15', '2.5.29.30']);
    assert.deepEqual(facts.unhandledCriticalExtensions, []);
    const leaf = await ca.issueX509SvidUnchecked({ basicConstraints: { ca: false } });
    assert.deepEqual(certificateFacts(leaf.certificates[0]!).basicConstraints, {
      ca: false,
      pathLen: undefined,
    });
    const none = await ca.issueX509SvidUnchecked({ basicConstraints: false });
    assert.equal(certificateFacts(none.certificates[0]!).basicConstraints, undefined);
  });

  it('classifies signature algorithms', async () => {
    const cases = [
      [{}, undefined],
      [{ signatureHash: 'SHA-384' }, undefined],
      [{ signatureHash: 'SHA-1' }, /weak signature algorithm ecdsa-with-SHA1/],
    ] as const;
    for (const [options, problem] of cases) {
      const raw = await ca.issueX509SvidUnchecked(options);
      const found = certificateFacts(raw.certificates[0]!).signatureAlgorithmProblem;
      if (problem === undefined) assert.equal(found, undefined);
      else assert.match(found ?? '', problem);
    }
    const ed = await ca.createIntermediate({ keyType: 'ed25519' });
    const byEd = await ca.issueX509SvidUnchecked({ issuer: ed });
    assert.equal(certificateFacts(byEd.certificates[0]!).signatureAlgorithm, '1.3.101.112');
    assert.equal(certificateFacts(byEd.certificates[0]!).signatureAlgorithmProblem, undefined);
  });

  it('accepts RSASSA-PSS with SHA-2 and rejects it with SHA-1', async () => {
    const pss = await ca.createIntermediate({ keyType: 'rsa-pss-2048' });
    const good = await ca.issueX509SvidUnchecked({ issuer: pss });
    const weak = await ca.issueX509SvidUnchecked({ issuer: pss, signatureHash: 'SHA-1' });
    assert.equal(
      certificateFacts(good.certificates[0]!).signatureAlgorithm,
      '1.2.840.113549.1.1.10',
    );
    assert.equal(certificateFacts(good.certificates[0]!).signatureAlgorithmProblem, undefined);
    assert.match(
      certificateFacts(weak.certificates[0]!).signatureAlgorithmProblem ?? '',
      /RSASSA-PSS with a SHA-1 or unknown hash/,
    );
  });

  it('describes keys and their problems', async () => {
    const cases = [
      ['ec-p256', 'EC P-256', undefined],
      ['ec-p384', 'EC P-384', undefined],
      ['ec-p521', 'EC P-521', undefined],
      ['ed25519', 'Ed25519', undefined],
      ['rsa-1024', 'RSA 1024', /at least 2048/],
    ] as const;
    for (const [keyType, description, problem] of cases) {
      const raw = await ca.issueX509SvidUnchecked({ keyType });
      const facts = certificateFacts(raw.certificates[0]!);
      assert.equal(facts.keyDescription, description);
      if (problem === undefined) assert.equal(facts.keyProblem, undefined);
      else assert.match(facts.keyProblem ?? '', problem);
    }
  });

  it('reads validity in milliseconds and whether a certificate is self-issued', async () => {
    const notBefore = new Date('2030-05-01T10:00:00Z');
    const notAfter = new Date('2030-05-01T11:00:00Z');
    const raw = await ca.issueX509SvidUnchecked({ notBefore, notAfter });
    const facts = certificateFacts(raw.certificates[0]!);
    assert.equal(facts.notBefore, notBefore.getTime());
    assert.equal(facts.notAfter, notAfter.getTime());
    assert.equal(facts.selfIssued, false);
    assert.equal(certificateFacts(ca.x509Authorities[0]!).selfIssued, true);
  });

  it('explains why there is no SPIFFE ID', async () => {
    const cases = [
      [[], /no URI SAN/],
      [['spiffe://example.org/a', 'spiffe://example.org/b'], /more than one URI SAN/],
      [['spiffe://example.org/a/'], /trailing slash/],
    ] as const;
    for (const [uris, problem] of cases) {
      const raw = await ca.issueX509SvidUnchecked({ uris });
      const facts = certificateFacts(raw.certificates[0]!);
      assert.equal(facts.spiffeId, undefined);
      assert.match(facts.spiffeIdProblem ?? '', problem);
    }
  });

  it('caches facts per certificate object', async () => {
    const raw = await ca.issueX509SvidUnchecked({ uris: ['spiffe://example.org/x'] });
    assert.ok(certificateFacts(raw.certificates[0]!) === certificateFacts(raw.certificates[0]!));
    assert.ok(Object.isFrozen(certificateFacts(raw.certificates[0]!)));
  });

  describe('fails closed on structure it cannot read', () => {
    const malformedCases = [
      [
        'a duplicate extension',
        [{ oid: '2.5.29.17', critical: false, value: der(new Sequence({ value: [] })) }],
        /extension 2\.5\.29\.17 appears more than once/,
      ],
      [
        'a keyUsage that is not a BIT STRING',
        [{ oid: '2.5.29.15', critical: true, value: der(new Null()) }],
        /keyUsage: expected a primitive BIT STRING/,
      ],
      [
        'basicConstraints with unexpected fields',
        [
          {
            oid: '2.5.29.19',
            critical: true,
            value: der(new Sequence({ value: [new ObjectIdentifier({ value: '1.2.3' })] })),
          },
        ],
        /basicConstraints/,
      ],
    ] as const;

    for (const [name, extensions, pattern] of malformedCases) {
      it(`marks ${name} as malformed, and parse and verify reject it`, async () => {
        const usesKu = extensions[0].oid === '2.5.29.15';
        const usesBc = extensions[0].oid === '2.5.29.19';
        const raw = await ca.issueX509SvidUnchecked({
          uris: ['spiffe://example.org/x'],
          extensions,
          ...(usesKu ? { keyUsage: false as const } : {}),
          ...(usesBc ? { basicConstraints: false as const } : {}),
        });
        const facts = certificateFacts(raw.certificates[0]!);
        assert.match(facts.malformed ?? '', pattern);
        assert.equal(facts.spiffeId, undefined);
        assert.throws(
          () => X509Svid.parse(raw.certificatesPem, raw.privateKeyPem),
          InvalidX509SvidError,
        );
        assert.throws(
          () => verifyX509Svid(raw.certificates, ca.x509Bundle()),
          (err: Error) =>
            err instanceof X509SvidVerificationError && err.message.includes('malformed'),
        );
      });
    }

    it('control: the same certificate without the bad extension is accepted', async () => {
      const raw = await ca.issueX509SvidUnchecked({ uris: ['spiffe://example.org/x'] });
      assert.equal(certificateFacts(raw.certificates[0]!).malformed, undefined);
      assert.equal(verifyX509Svid(raw.certificates, ca.x509Bundle()).id.path, '/x');
    });
  });
});
