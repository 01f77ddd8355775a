import assert from 'node:assert/strict';
import type { X509Certificate } from 'node:crypto';
import { before, describe, it } from 'node:test';
import { X509Bundle } from '../../src/bundle/x509-bundle.js';
import { BundleNotFoundError, X509SvidVerificationError } from '../../src/errors.js';
import {
  MAX_X509_CHAIN_LENGTH,
  parseAndVerifyX509Svid,
  verifyX509Svid,
} from '../../src/svid/verify-x509-svid.js';
import { TrustDomain } from '../../src/spiffeid/index.js';
import { TestCA, type TestCaCertificate } from '../../src/testing/test-ca.js';
import { accepts, assertThrows, bundles, ders, rejects } from './x509-helpers.js';

describe('verifyX509Svid', () => {
  let a: TestCA; // a.org, leaf -> root
  let b: TestCA; // b.org
  let ai: TestCA; // a.org with one intermediate
  let both: ReturnType<typeof bundles>;

  before(async () => {
    a = await TestCA.create({ trustDomain: 'a.org' });
    b = await TestCA.create({ trustDomain: 'b.org' });
    ai = await TestCA.create({ trustDomain: 'a.org', intermediates: 1 });
    both = bundles(a.x509Bundle(), b.x509Bundle());
  });

  describe('chains', () => {
    it('accepts leaf -> root and returns the chain up to the bundle authority', async () => {
      const svid = await a.issueX509Svid('spiffe://a.org/web');
      const chains = accepts(svid.certificates, both, 'spiffe://a.org/web');
      assert.equal(chains.length, 1);
      assert.equal(chains[0]!.length, 2);
      assert.ok(chains[0]![1] === a.x509Authorities[0]);
    });

    it('accepts leaf -> intermediate -> root; rejects the same leaf without the intermediate', async () => {
      const svid = await ai.issueX509Svid('spiffe://a.org/web');
      const source = bundles(ai.x509Bundle());
      const chains = accepts(svid.certificates, source, 'spiffe://a.org/web');
      assert.equal(chains[0]!.length, 3);
      rejects(
        [svid.certificates[0]!],
        source,
        /signed by unknown authority \(trust domain "a\.org"\)/,
      );
    });

    it('accepts unordered chains padded with duplicates, the root, and unrelated certificates', async () => {
      const inter1 = await ai.createIntermediate();
      const svid = await ai.issueX509Svid('spiffe://a.org/web', { issuer: inter1 });
      const [leaf, i1, i0] = svid.certificates;
      const padded = [leaf!, ai.x509Authorities[0]!, i0!, b.x509Authorities[0]!, i1!, i0!, i1!];
      const chains = accepts(
        padded,
        bundles(ai.x509Bundle(), b.x509Bundle()),
        'spiffe://a.org/web',
      );
      assert.equal(chains.length, 1);
      assert.deepEqual(
        chains[0]!.map((c) => c.raw),
        [leaf!.raw, i1!.raw, i0!.raw, ai.x509Authorities[0]!.raw],
      );
    });

    it('rejects a cross-trust-domain forgery: an a.org leaf signed by b.org, both bundles trusted', async () => {
      const forged = await a.issueX509SvidUnchecked({ uris: ['spiffe://a.org/web'], signer: b });
      const control = await a.issueX509SvidUnchecked({ uris: ['spiffe://b.org/web'], signer: b });
      accepts(control.certificates, both, 'spiffe://b.org/web');
      rejects(forged.certificates, both, /unknown authority \(trust domain "a\.org"\)/);
      // Sending b.org's root along does not help.
      rejects([...forged.certificates, b.x509Authorities[0]!], both, /unknown authority/);
    });

    it('rejects a same-DN root from another trust domain sent in the chain', async () => {
      const realA = await TestCA.create({ trustDomain: 'a.org', rootSubject: 'O=SPIFFE, CN=Root' });
      const evil = await TestCA.create({ trustDomain: 'b.org', rootSubject: 'O=SPIFFE, CN=Root' });
      const source = bundles(realA.x509Bundle(), evil.x509Bundle());
      const forged = await realA.issueX509SvidUnchecked({
        uris: ['spiffe://a.org/admin'],
        signer: evil,
        chain: [evil.x509Authorities[0]!, evil.x509Authorities[0]!],
      });
      // The name matches a.org's root; only the signature check tells them apart.
      assert.equal(forged.certificates[0]!.issuer, realA.x509Authorities[0]!.subject);
      rejects(forged.certificates, source, /does not verify with the key of authority/);
      const genuine = await realA.issueX509Svid('spiffe://a.org/admin');
      accepts([...genuine.certificates, evil.x509Authorities[0]!], source, 'spiffe://a.org/admin');
    });

    it('rejects a non-CA "intermediate" (a legit a.org leaf used as issuer, tls-in-node §1.3)', async () => {
      // A genuine a.org workload certificate (not a CA) whose key the attacker holds.
      const workload = await a.createIntermediate({
        basicConstraints: { ca: false },
        keyUsage: ['digitalSignature'],
        uri: 'spiffe://a.org/workload',
      });
      const evil = await a.issueX509SvidUnchecked({
        uris: ['spiffe://a.org/admin'],
        issuer: workload,
      });
      rejects(evil.certificates, both, /is not a CA \(basicConstraints cA is not true\)/);
      const noBc = await a.createIntermediate({ basicConstraints: false, keyUsage: false });
      const viaNoBc = await a.issueX509SvidUnchecked({ uris: ['spiffe://a.org/x'], issuer: noBc });
      rejects(viaNoBc.certificates, both, /is not a CA/);
      const ca = await a.createIntermediate({ keyUsage: false });
      const control = await a.issueX509SvidUnchecked({ uris: ['spiffe://a.org/x'], issuer: ca });
      accepts(control.certificates, both, 'spiffe://a.org/x');
    });

    it("rejects an intermediate whose keyUsage lacks 'keyCertSign'", async () => {
      const inter = await a.createIntermediate({ keyUsage: ['digitalSignature', 'cRLSign'] });
      const svid = await a.issueX509SvidUnchecked({ uris: ['spiffe://a.org/x'], issuer: inter });
      rejects(svid.certificates, both, /has a keyUsage without 'keyCertSign'/);
    });

    it('rejects a bundle authority marked as not a CA or without keyCertSign', async () => {
      const notCa = await a.createIntermediate({
        basicConstraints: { ca: false },
        keyUsage: false,
      });
      const svid = await a.issueX509SvidUnchecked({
        uris: ['spiffe://a.org/x'],
        issuer: notCa,
        chain: [],
      });
      const td = TrustDomain.parse('a.org');
      rejects(
        svid.certificates,
        X509Bundle.fromAuthorities(td, [notCa.certificate]),
        /bundle authority with CA flag set to false/,
      );
      const noSign = await a.createIntermediate({ keyUsage: ['cRLSign'] });
      const svid2 = await a.issueX509SvidUnchecked({
        uris: ['spiffe://a.org/x'],
        issuer: noSign,
        chain: [],
      });
      rejects(
        svid2.certificates,
        X509Bundle.fromAuthorities(td, [noSign.certificate]),
        /authority .* has a keyUsage without 'keyCertSign'/,
      );
      // Control: a non-self-signed CA certificate is a fine anchor when it is in the bundle.
      const inter = await a.createIntermediate();
      const svid3 = await a.issueX509SvidUnchecked({
        uris: ['spiffe://a.org/x'],
        issuer: inter,
        chain: [],
      });
      accepts(
        svid3.certificates,
        X509Bundle.fromAuthorities(td, [inter.certificate]),
        'spiffe://a.org/x',
      );
    });

    it('never uses the leaf itself as an anchor, even when the bundle holds it', async () => {
      const svid = await a.issueX509Svid('spiffe://a.org/web');
      const leaf = svid.certificates[0]!;
      rejects(
        [leaf],
        X509Bundle.fromAuthorities(TrustDomain.parse('a.org'), [leaf]),
        /unknown authority/,
      );
    });

    it('finds every path when an intermediate is cross-signed', async () => {
      const i1 = await ai.createIntermediate({ subject: 'O=SPIFFE, CN=Cross' });
      const i1cross = await ai.createIntermediate({
        subject: 'O=SPIFFE, CN=Cross',
        reuseKeyOf: i1,
        issuer: ai.rootCertificate,
      });
      const svid = await ai.issueX509Svid('spiffe://a.org/web', { issuer: i1 });
      const chain = [...svid.certificates, i1cross.certificate];
      const chains = accepts(chain, bundles(ai.x509Bundle()), 'spiffe://a.org/web');
      assert.deepEqual(chains.map((c) => c.length).sort(), [3, 4]);
    });

    it('terminates on issuer loops and rejects them', async () => {
      const loopA = await a.createIntermediate({ subject: 'O=Loop, CN=A' });
      const loopB = await a.createIntermediate({ subject: 'O=Loop, CN=B', issuer: loopA });
      // A second certificate for A's key, issued by B: A -> B -> A' -> B ...
      const loopA2 = await a.createIntermediate({
        subject: 'O=Loop, CN=A',
        reuseKeyOf: loopA,
        issuer: loopB,
      });
      const svid = await a.issueX509SvidUnchecked({
        uris: ['spiffe://a.org/x'],
        issuer: loopB,
        chain: [loopB.certificate, loopA2.certificate],
      });
      const unrelated = bundles(b.x509Bundle(), X509Bundle.empty(TrustDomain.parse('a.org')));
      rejects(svid.certificates, unrelated, /unknown authority/);
      // Control: with loopA in the chain the path reaches a.org's root.
      accepts([...svid.certificates, loopA.certificate], both, 'spiffe://a.org/x');
    });

    it('bounds the search on chains that branch at every level', async () => {
      // Five levels of three copies of one intermediate (same subject and key, different serials):
      // 3^5 paths. The top level is signed by b.org, so no path reaches a.org's root and the whole
      // tree would be explored without the step bound.
      const copies = async (
        issuer: TestCaCertificate,
        level: number,
      ): Promise<TestCaCertificate[]> => {
        const first = await a.createIntermediate({ issuer, subject: `O=Branch, CN=L${level}` });
        const rest = [];
        for (let i = 0; i < 2; i++) {
          rest.push(
            await a.createIntermediate({
              issuer,
              subject: `O=Branch, CN=L${level}`,
              reuseKeyOf: first,
            }),
          );
        }
        return [first, ...rest];
      };
      let level = await copies(b.rootCertificate, 1);
      const all = [...level];
      for (let l = 2; l <= 5; l++) {
        level = await copies(level[0]!, l);
        all.push(...level);
      }
      const svid = await a.issueX509SvidUnchecked({
        uris: ['spiffe://a.org/x'],
        issuer: level[0]!,
        chain: all.map((c) => c.certificate),
      });
      assert.equal(svid.certificates.length, 16);
      rejects(svid.certificates, both, /gave up after 256 path-building steps/);
    });

    it('bounds the chain length and the path depth', async () => {
      const svid = await a.issueX509Svid('spiffe://a.org/web');
      const long = [
        svid.certificates[0]!,
        ...Array<X509Certificate>(MAX_X509_CHAIN_LENGTH).fill(a.x509Authorities[0]!),
      ];
      rejects(long, both, /at most 16 are accepted/);
      // root -> 9 intermediates -> leaf is 11 certificates: over the depth bound of 10.
      let issuer: TestCaCertificate = a.rootCertificate;
      const inters: TestCaCertificate[] = [];
      for (let i = 0; i < 9; i++) {
        issuer = await a.createIntermediate({ issuer });
        inters.push(issuer);
      }
      const deep = await a.issueX509SvidUnchecked({ uris: ['spiffe://a.org/deep'], issuer });
      assert.equal(deep.certificates.length, 10);
      rejects(deep.certificates, both, /no path within 10 certificates/);
      const shallow = await a.issueX509SvidUnchecked({
        uris: ['spiffe://a.org/ok'],
        issuer: inters[7]!,
      });
      accepts(shallow.certificates, both, 'spiffe://a.org/ok');
    });
  });

  describe('leaf rules', () => {
    it('rejects an empty chain', () => {
      rejects([], both, /empty certificates chain/);
    });

    it('rejects a leaf with the CA flag, keyCertSign or cRLSign', async () => {
      const cases = [
        [
          { basicConstraints: { ca: true } },
          /leaf certificate "spiffe:\/\/a\.org\/x" with CA flag set to true/,
        ],
        [{ keyUsage: ['digitalSignature', 'keyCertSign'] }, /with KeyCertSign key usage/],
        [{ keyUsage: ['digitalSignature', 'cRLSign'] }, /with KeyCrlSign key usage/],
      ] as const;
      for (const [options, pattern] of cases) {
        const svid = await a.issueX509SvidUnchecked({ uris: ['spiffe://a.org/x'], ...options });
        rejects(svid.certificates, both, pattern);
      }
      // Control: verification (unlike parsing) does not require digitalSignature (go-spiffe).
      const noKu = await a.issueX509SvidUnchecked({ uris: ['spiffe://a.org/x'], keyUsage: false });
      accepts(noKu.certificates, both, 'spiffe://a.org/x');
    });

    it('rejects leaves with zero, two, or non-SPIFFE URI SANs', async () => {
      const cases = [
        [[], /certificate contains no URI SAN/],
        [['spiffe://a.org/x', 'spiffe://a.org/y'], /certificate contains more than one URI SAN/],
        [['spiffe://a.org/x', 'https://a.org/y'], /certificate contains more than one URI SAN/],
        [['https://a.org/x'], /scheme is missing or invalid/],
        [['sparfe://a.org/x'], /scheme is missing or invalid/],
      ] as const;
      for (const [uris, pattern] of cases) {
        const svid = await a.issueX509SvidUnchecked({ uris });
        rejects(svid.certificates, both, pattern);
      }
    });

    it('rejects a root-path SPIFFE ID (X509-SVID §5.2)', async () => {
      const svid = await a.issueX509SvidUnchecked({ uris: ['spiffe://a.org'] });
      rejects(svid.certificates, both, /must have a non-root path/);
    });

    it('rejects malformed SPIFFE IDs in the URI SAN', async () => {
      const malformed = [
        'spiffe://A.org/x',
        'SPIFFE://a.org/x',
        'spiffe://a.org//x',
        'spiffe://a.org/./x',
        'spiffe://a.org/x/..',
        'spiffe://a.org/%41',
        'spiffe://a%2eorg/x',
        'spiffe://a.org:443/x',
        'spiffe://user@a.org/x',
        'spiffe://a.org/x?q=1',
        'spiffe://a.org/x#frag',
        'spiffe://a.org/x/',
        'spiffe:///x',
        'spiffe://',
        'spiffe://a.org/x, URI:spiffe://a.org/admin',
      ];
      for (const uri of malformed) {
        const svid = await a.issueX509SvidUnchecked({ uris: [uri] });
        rejects(svid.certificates, both, /could not get leaf SPIFFE ID: invalid SPIFFE ID/);
      }
    });

    it('reads SANs from DER: a DNS name cannot inject a URI SAN', async () => {
      const svid = await a.issueX509SvidUnchecked({
        uris: ['spiffe://a.org/lowpriv'],
        dnsNames: ['x.example, URI:spiffe://a.org/admin'],
      });
      accepts(svid.certificates, both, 'spiffe://a.org/lowpriv');
      const onlyDns = await a.issueX509SvidUnchecked({ dnsNames: ['x, URI:spiffe://a.org/admin'] });
      rejects(onlyDns.certificates, both, /certificate contains no URI SAN/);
    });
  });

  describe('bundles', () => {
    it('rejects a leaf whose trust domain has no bundle, with the cause attached', async () => {
      const svid = await b.issueX509Svid('spiffe://b.org/x');
      const err = assertThrows(
        () => verifyX509Svid(svid.certificates, bundles(a.x509Bundle())),
        X509SvidVerificationError,
        /could not get X509 bundle for trust domain "b\.org"/,
      );
      assert.ok(err.cause instanceof BundleNotFoundError);
      accepts(svid.certificates, bundles(a.x509Bundle(), b.x509Bundle()), 'spiffe://b.org/x');
    });

    it('rejects against an empty bundle', async () => {
      const svid = await a.issueX509Svid('spiffe://a.org/x');
      rejects(
        svid.certificates,
        X509Bundle.empty(TrustDomain.parse('a.org')),
        /\(the bundle is empty\)/,
      );
    });

    it('accepts during a rotation and rejects once the old authority is rotated out', async () => {
      const ca = await TestCA.create({ trustDomain: 'a.org' });
      const old = await ca.issueX509Svid('spiffe://a.org/x');
      await ca.rotateX509Authority();
      const fresh = await ca.issueX509Svid('spiffe://a.org/x');
      accepts(old.certificates, ca.x509Bundle(), 'spiffe://a.org/x');
      accepts(fresh.certificates, ca.x509Bundle(), 'spiffe://a.org/x');
      ca.retireOldX509Authorities();
      rejects(old.certificates, ca.x509Bundle(), /unknown authority/);
      accepts(fresh.certificates, ca.x509Bundle(), 'spiffe://a.org/x');
    });

    it('lets non-bundle errors of the source pass through', async () => {
      const svid = await a.issueX509Svid('spiffe://a.org/x');
      const boom = new Error('source broke');
      assert.throws(
        () =>
          verifyX509Svid(svid.certificates, {
            getX509BundleForTrustDomain() {
              throw boom;
            },
          }),
        (err) => err === boom,
      );
    });
  });

  describe('parseAndVerifyX509Svid', () => {
    it('verifies DER chains and reuses parsed certificates for identical bytes', async () => {
      const svid = await ai.issueX509Svid('spiffe://a.org/x');
      const source = bundles(ai.x509Bundle());
      const first = parseAndVerifyX509Svid(ders(svid.certificates), source);
      const second = parseAndVerifyX509Svid(ders(svid.certificates), source);
      assert.equal(first.id.toString(), 'spiffe://a.org/x');
      assert.ok(first.verifiedChains[0]![0] === second.verifiedChains[0]![0]);
    });

    it('rejects bytes that are not a certificate, and empty input', async () => {
      const svid = await a.issueX509Svid('spiffe://a.org/x');
      const corrupt = ders(svid.certificates);
      corrupt[0] = corrupt[0]!.slice(0, 40);
      assertThrows(
        () => parseAndVerifyX509Svid(corrupt, both),
        X509SvidVerificationError,
        /unable to parse certificate 0/,
      );
      assertThrows(() => parseAndVerifyX509Svid([], both), X509SvidVerificationError, /empty/);
      accepts(svid.certificates, both, 'spiffe://a.org/x');
    });

    it('applies the same rules as verifyX509Svid', async () => {
      const forged = await a.issueX509SvidUnchecked({ uris: ['spiffe://a.org/web'], signer: b });
      assertThrows(
        () => parseAndVerifyX509Svid(ders(forged.certificates), both),
        X509SvidVerificationError,
        /unknown authority/,
      );
    });
  });
});
