import assert from 'node:assert/strict';
import type { X509Certificate } from 'node:crypto';
import { before, describe, it } from 'node:test';
import {
  BundleNotFoundError,
  InvalidArgumentError,
  JwtBundle,
  JwtBundleSet,
  SpiffeBundle,
  SpiffeBundleSet,
  X509Bundle,
  X509BundleSet,
} from '../../src/bundle/index.js';
import { TrustDomain } from '../../src/spiffeid/index.js';
import { caCertificate, otherTd, publicKey, td, throwsWith } from './fixtures.js';

const zTd = TrustDomain.parse('z.org');
let a: X509Certificate;
let b: X509Certificate;

before(async () => {
  [a, b] = await Promise.all([caCertificate(), caCertificate('ec-p256', otherTd)]);
});

const ownBundle = (): SpiffeBundle =>
  SpiffeBundle.empty(td).withX509Authority(a).withJwtAuthority('own', publicKey());
const partnerBundle = (): SpiffeBundle =>
  SpiffeBundle.empty(otherTd)
    .withX509Authority(b)
    .withJwtAuthority('partner', publicKey('ec-p384'));

describe('SpiffeBundleSet', () => {
  it('holds one bundle per trust domain, sorted by name; a later bundle wins', () => {
    const replaced = ownBundle().withSequenceNumber(2);
    const set = SpiffeBundleSet.of(SpiffeBundle.empty(zTd), ownBundle(), partnerBundle(), replaced);
    assert.equal(set.size, 3);
    assert.deepEqual(
      set.bundles().map((x) => x.trustDomain.name),
      ['example.org', 'other.org', 'z.org'],
    );
    assert.equal(set.get(td), replaced);
    assert.deepEqual([...set], set.bundles());
    assert.equal(new SpiffeBundleSet().size, 0);
  });

  it('is a SPIFFE, X.509 and JWT bundle source that never mixes trust domains', () => {
    const set = SpiffeBundleSet.of(ownBundle(), partnerBundle());
    assert.ok(set.getBundleForTrustDomain(td).equals(ownBundle()));
    const partnerX509 = set.getX509BundleForTrustDomain(otherTd);
    assert.ok(partnerX509.hasAuthority(b));
    assert.equal(partnerX509.hasAuthority(a), false);
    const partnerJwt = set.getJwtBundleForTrustDomain(otherTd);
    assert.deepEqual([...partnerJwt.jwtAuthorities.keys()], ['partner']);
    assert.equal(set.getJwtBundleForTrustDomain(td).hasAuthority('partner'), false);
  });

  for (const [kind, get] of [
    ['SPIFFE', (s: SpiffeBundleSet) => s.getBundleForTrustDomain(zTd)],
    ['X.509', (s: SpiffeBundleSet) => s.getX509BundleForTrustDomain(zTd)],
    ['JWT', (s: SpiffeBundleSet) => s.getJwtBundleForTrustDomain(zTd)],
  ] as const) {
    it(`throws BundleNotFoundError for a missing ${kind} bundle`, () => {
      const set = SpiffeBundleSet.of(ownBundle());
      assert.throws(
        () => get(set),
        (err: unknown) => {
          assert.ok(err instanceof BundleNotFoundError);
          assert.equal(err.trustDomain, 'z.org');
          assert.ok(err.message.includes(`no ${kind} bundle for trust domain "z.org"`));
          return true;
        },
      );
    });
  }

  it('derives X.509 and JWT bundle sets, computed once', () => {
    const set = SpiffeBundleSet.of(ownBundle(), partnerBundle());
    const x509 = set.x509BundleSet();
    assert.ok(x509 instanceof X509BundleSet);
    assert.deepEqual(
      x509.bundles().map((x) => x.trustDomain.name),
      ['example.org', 'other.org'],
    );
    assert.equal(set.x509BundleSet(), x509);
    const jwt = set.jwtBundleSet();
    assert.ok(jwt instanceof JwtBundleSet);
    assert.ok(jwt.getJwtBundleForTrustDomain(otherTd).hasAuthority('partner'));
    assert.equal(set.jwtBundleSet(), jwt);
  });

  it('combines X.509 and JWT bundles per trust domain', () => {
    const set = SpiffeBundleSet.combine(
      X509BundleSet.of(
        X509Bundle.fromAuthorities(td, [a]),
        X509Bundle.fromAuthorities(otherTd, [b]),
      ),
      JwtBundleSet.of(
        JwtBundle.fromAuthorities(td, { own: publicKey() }),
        JwtBundle.fromAuthorities(zTd, { z: publicKey() }),
      ),
    );
    assert.ok(set.getBundleForTrustDomain(td).equals(ownBundle()));
    assert.ok(set.getBundleForTrustDomain(otherTd).jwtBundle().isEmpty());
    assert.ok(set.getBundleForTrustDomain(zTd).x509Bundle().isEmpty());
    assert.ok(set.getBundleForTrustDomain(zTd).hasJwtAuthority('z'));
  });

  it('is immutable: with/without return new sets and leave the original as it was', () => {
    const set = SpiffeBundleSet.of(ownBundle());
    const added = set.with(partnerBundle());
    const removed = set.without(td);
    assert.equal(set.size, 1);
    assert.equal(added.size, 2);
    assert.equal(removed.size, 0);
    assert.equal(set.without(zTd), set);
    assert.ok(Object.isFrozen(set));
    assert.ok(Object.isFrozen(set.bundles()));
    const snapshot = set.bundles();
    set.with(partnerBundle());
    assert.equal(snapshot.length, 1);
  });

  it('equals compares the bundles of every trust domain, sequence numbers included', () => {
    const s1 = SpiffeBundleSet.of(ownBundle(), partnerBundle());
    assert.ok(s1.equals(SpiffeBundleSet.of(partnerBundle(), ownBundle())));
    assert.equal(s1.equals(s1.with(ownBundle().withSequenceNumber(1))), false);
    assert.equal(s1.equals(s1.without(otherTd)), false);
  });

  it('refuses anything that is not a SpiffeBundle', () => {
    throwsWith(
      () => new SpiffeBundleSet([X509Bundle.empty(td) as unknown as SpiffeBundle]),
      InvalidArgumentError,
      /holds only SPIFFE bundles/,
    );
    assert.equal(new SpiffeBundleSet([SpiffeBundle.empty(td)]).size, 1);
  });
});
