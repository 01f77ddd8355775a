import { before, describe, it } from 'node:test';
import { X509Bundle } from '../../src/bundle/x509-bundle.js';
import { TrustDomain } from '../../src/spiffeid/index.js';
import { TestCA } from '../../src/testing/test-ca.js';
import { accepts, bundles, rejects } from './x509-helpers.js';

const HOUR = 3_600_000;

describe('verifyX509Svid path rules', () => {
  let a: TestCA; // a.org, leaf -> root
  let b: TestCA; // b.org
  let both: ReturnType<typeof bundles>;

  before(async () => {
    a = await TestCA.create({ trustDomain: 'a.org' });
    b = await TestCA.create({ trustDomain: 'b.org' });
    both = bundles(a.x509Bundle(), b.x509Bundle());
  });

  describe('validity periods', () => {
    const t0 = new Date('2031-03-01T00:00:00Z');
    const at = (ms: number): Date => new Date(t0.getTime() + ms);
    let ca: TestCA; // root valid [t0, t0 + 10 h]

    before(async () => {
      ca = await TestCA.create({ trustDomain: 'a.org', now: t0, ttlSeconds: 10 * 3600 });
    });

    it('rejects an expired or not yet valid leaf', async () => {
      const svid = await ca.issueX509Svid('spiffe://a.org/web', { ttlSeconds: 3600 });
      const source = ca.x509Bundle();
      accepts(svid.certificates, source, 'spiffe://a.org/web', at(HOUR / 2));
      accepts(svid.certificates, source, 'spiffe://a.org/web', at(HOUR)); // notAfter is inclusive
      rejects(
        svid.certificates,
        source,
        /leaf certificate "spiffe:\/\/a\.org\/web" has expired/,
        at(HOUR + 1000),
      );
      rejects(svid.certificates, source, /is not yet valid/, at(-1000));
    });

    it('rejects an expired or not yet valid intermediate', async () => {
      const inter = await ca.createIntermediate({
        notBefore: at(2 * HOUR),
        notAfter: at(4 * HOUR),
      });
      const svid = await ca.issueX509SvidUnchecked({
        uris: ['spiffe://a.org/web'],
        issuer: inter,
        notBefore: at(0),
        notAfter: at(9 * HOUR),
      });
      const source = ca.x509Bundle();
      accepts(svid.certificates, source, 'spiffe://a.org/web', at(3 * HOUR));
      rejects(svid.certificates, source, /intermediate .* is not yet valid/, at(HOUR));
      rejects(svid.certificates, source, /intermediate .* has expired/, at(5 * HOUR));
    });

    it('rejects an expired or not yet valid root', async () => {
      const svid = await ca.issueX509SvidUnchecked({
        uris: ['spiffe://a.org/web'],
        notBefore: at(-5 * HOUR),
        notAfter: at(20 * HOUR),
      });
      const source = ca.x509Bundle();
      accepts(svid.certificates, source, 'spiffe://a.org/web', at(5 * HOUR));
      rejects(svid.certificates, source, /authority .* has expired/, at(11 * HOUR));
      rejects(svid.certificates, source, /authority .* is not yet valid/, at(-HOUR));
    });

    it('uses the current time by default', async () => {
      const expired = await a.issueX509SvidUnchecked({
        uris: ['spiffe://a.org/web'],
        notBefore: new Date(Date.now() - 2 * HOUR),
        notAfter: new Date(Date.now() - HOUR),
      });
      rejects(expired.certificates, both, /has expired/);
      const fresh = await a.issueX509Svid('spiffe://a.org/web');
      accepts(fresh.certificates, both, 'spiffe://a.org/web');
    });
  });

  describe('CA constraints', () => {
    it('enforces pathLenConstraint', async () => {
      const p0 = await a.createIntermediate({ basicConstraints: { ca: true, pathLen: 0 } });
      const below = await a.createIntermediate({ issuer: p0 });
      const tooDeep = await a.issueX509SvidUnchecked({ uris: ['spiffe://a.org/x'], issuer: below });
      rejects(
        tooDeep.certificates,
        both,
        /pathLenConstraint 0 but 1 intermediate CA certificate\(s\) follow it/,
      );
      const direct = await a.issueX509SvidUnchecked({ uris: ['spiffe://a.org/x'], issuer: p0 });
      accepts(direct.certificates, both, 'spiffe://a.org/x');
      const p1 = await a.createIntermediate({ basicConstraints: { ca: true, pathLen: 1 } });
      const belowP1 = await a.createIntermediate({ issuer: p1 });
      const ok = await a.issueX509SvidUnchecked({ uris: ['spiffe://a.org/x'], issuer: belowP1 });
      accepts(ok.certificates, both, 'spiffe://a.org/x');
    });

    it('enforces pathLenConstraint on the bundle authority too', async () => {
      const root = await TestCA.create({ trustDomain: 'a.org' });
      const anchor = await root.createIntermediate({ basicConstraints: { ca: true, pathLen: 0 } });
      const below = await root.createIntermediate({ issuer: anchor });
      const svid = await root.issueX509SvidUnchecked({ uris: ['spiffe://a.org/x'], issuer: below });
      const source = X509Bundle.fromAuthorities(TrustDomain.parse('a.org'), [anchor.certificate]);
      rejects(svid.certificates, source, /authority .* pathLenConstraint 0/);
      const direct = await root.issueX509SvidUnchecked({
        uris: ['spiffe://a.org/x'],
        issuer: anchor,
      });
      accepts(direct.certificates, source, 'spiffe://a.org/x');
    });

    it('enforces permitted URI name constraints', async () => {
      const exact = await a.createIntermediate({ nameConstraints: { permittedUris: ['a.org'] } });
      const other = await a.createIntermediate({ nameConstraints: { permittedUris: ['b.org'] } });
      const subdomains = await a.createIntermediate({
        nameConstraints: { permittedUris: ['.a.org'] },
      });
      for (const [issuer, ok] of [
        [exact, true],
        [other, false],
        [subdomains, false],
      ] as const) {
        const svid = await a.issueX509SvidUnchecked({ uris: ['spiffe://a.org/web'], issuer });
        if (ok) accepts(svid.certificates, both, 'spiffe://a.org/web');
        else
          rejects(
            svid.certificates,
            both,
            /URI SAN "spiffe:\/\/a\.org\/web" is not in any permitted subtree/,
          );
      }
    });

    it('enforces excluded URI name constraints', async () => {
      const excl = await a.createIntermediate({ nameConstraints: { excludedUris: ['a.org'] } });
      const svid = await a.issueX509SvidUnchecked({ uris: ['spiffe://a.org/web'], issuer: excl });
      rejects(
        svid.certificates,
        both,
        /URI SAN "spiffe:\/\/a\.org\/web" is in an excluded subtree/,
      );
      const exclOther = await a.createIntermediate({
        nameConstraints: { excludedUris: ['b.org', '.a.org'] },
      });
      const ok = await a.issueX509SvidUnchecked({
        uris: ['spiffe://a.org/web'],
        issuer: exclOther,
      });
      accepts(ok.certificates, both, 'spiffe://a.org/web');
    });

    it('enforces DNS name constraints on the leaf DNS SANs', async () => {
      const nc = await a.createIntermediate({
        nameConstraints: { permittedDns: ['example.com'], excludedDns: ['bad.example.com'] },
      });
      const issue = (dnsNames: string[]) =>
        a.issueX509SvidUnchecked({ uris: ['spiffe://a.org/web'], dnsNames, issuer: nc });
      accepts(
        (await issue(['example.com', 'www.example.com'])).certificates,
        both,
        'spiffe://a.org/web',
      );
      rejects(
        (await issue(['www.example.net'])).certificates,
        both,
        /DNS SAN "www\.example\.net" is not in any permitted subtree/,
      );
      rejects(
        (await issue(['x.bad.example.com'])).certificates,
        both,
        /DNS SAN "x\.bad\.example\.com" is in an excluded subtree/,
      );
      rejects(
        (await issue(['x, URI:spiffe://a.org/admin'])).certificates,
        both,
        /is not a valid DNS name, so DNS name constraints cannot be checked/,
      );
    });

    it('applies name constraints to the intermediates below the constrained CA', async () => {
      const top = await a.createIntermediate({ nameConstraints: { permittedUris: ['a.org'] } });
      const wrong = await a.createIntermediate({ issuer: top, uri: 'spiffe://b.org' });
      const right = await a.createIntermediate({ issuer: top, uri: 'spiffe://a.org' });
      const bad = await a.issueX509SvidUnchecked({ uris: ['spiffe://a.org/x'], issuer: wrong });
      rejects(
        bad.certificates,
        both,
        /intermediate .*spiffe:\/\/b\.org.* violates: URI SAN "spiffe:\/\/b\.org"/,
      );
      const good = await a.issueX509SvidUnchecked({ uris: ['spiffe://a.org/x'], issuer: right });
      accepts(good.certificates, both, 'spiffe://a.org/x');
    });

    it('rejects name constraints of a form it does not check (fail closed)', async () => {
      const nc = await a.createIntermediate({
        nameConstraints: { permittedUris: ['a.org'], permittedEmails: ['a.org'] },
      });
      const svid = await a.issueX509SvidUnchecked({ uris: ['spiffe://a.org/x'], issuer: nc });
      rejects(
        svid.certificates,
        both,
        /name constraints of a form this SDK does not check \(rfc822Name\)/,
      );
      const nonCritical = await a.createIntermediate({
        nameConstraints: { permittedEmails: ['a.org'], critical: false },
      });
      const svid2 = await a.issueX509SvidUnchecked({
        uris: ['spiffe://a.org/x'],
        issuer: nonCritical,
      });
      rejects(svid2.certificates, both, /does not check \(rfc822Name\)/);
    });
  });

  describe('extensions and algorithms', () => {
    const unknownCritical = [
      { oid: '1.3.6.1.4.1.99999.7', critical: true, value: new Uint8Array([5, 0]) },
    ];

    it('rejects an unknown critical extension on the leaf; accepts it when not critical', async () => {
      const bad = await a.issueX509SvidUnchecked({
        uris: ['spiffe://a.org/x'],
        extensions: unknownCritical,
      });
      rejects(
        bad.certificates,
        both,
        /unhandled critical extension \(1\.3\.6\.1\.4\.1\.99999\.7\)/,
      );
      const ok = await a.issueX509SvidUnchecked({
        uris: ['spiffe://a.org/x'],
        extensions: [{ ...unknownCritical[0]!, critical: false }],
      });
      accepts(ok.certificates, both, 'spiffe://a.org/x');
    });

    it('rejects an unknown critical extension on an intermediate', async () => {
      const inter = await a.createIntermediate({ extensions: unknownCritical });
      const svid = await a.issueX509SvidUnchecked({ uris: ['spiffe://a.org/x'], issuer: inter });
      rejects(svid.certificates, both, /intermediate .* unhandled critical extension/);
    });

    it('rejects SHA-1 signatures on the leaf and on intermediates', async () => {
      const sha1 = await a.issueX509SvidUnchecked({
        uris: ['spiffe://a.org/x'],
        signatureHash: 'SHA-1',
      });
      rejects(
        sha1.certificates,
        both,
        /rejected algorithm: weak signature algorithm ecdsa-with-SHA1/,
      );
      const sha256 = await a.issueX509SvidUnchecked({
        uris: ['spiffe://a.org/x'],
        signatureHash: 'SHA-256',
      });
      accepts(sha256.certificates, both, 'spiffe://a.org/x');
      const inter = await a.createIntermediate({ signatureHash: 'SHA-1' });
      const viaSha1 = await a.issueX509SvidUnchecked({ uris: ['spiffe://a.org/x'], issuer: inter });
      rejects(viaSha1.certificates, both, /weak signature algorithm ecdsa-with-SHA1/);
    });

    it('rejects RSA keys under 2048 bits in the leaf and in intermediates', async () => {
      const weakLeaf = await a.issueX509SvidUnchecked({
        uris: ['spiffe://a.org/x'],
        keyType: 'rsa-1024',
      });
      rejects(weakLeaf.certificates, both, /RSA key of 1024 bits/);
      const weakInter = await a.createIntermediate({ keyType: 'rsa-1024' });
      const svid = await a.issueX509SvidUnchecked({
        uris: ['spiffe://a.org/x'],
        issuer: weakInter,
      });
      rejects(svid.certificates, both, /intermediate .* RSA key of 1024 bits/);
      const rsaInter = await a.createIntermediate({ keyType: 'rsa-2048' });
      const ok = await a.issueX509SvidUnchecked({ uris: ['spiffe://a.org/x'], issuer: rsaInter });
      accepts(ok.certificates, both, 'spiffe://a.org/x');
    });
  });
});
