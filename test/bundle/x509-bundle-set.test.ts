import assert from 'node:assert/strict';
import type { X509Certificate } from 'node:crypto';
import { before, describe, it } from 'node:test';
import {
  BundleNotFoundError,
  InvalidArgumentError,
  JwtBundle,
  X509Bundle,
  X509BundleSet,
} from '../../src/bundle/index.js';
import { TrustDomain } from '../../src/spiffeid/index.js';
import { caCertificate, otherTd, td, throwsWith } from './fixtures.js';

const zTd = TrustDomain.parse('z.org');
let a: X509Certificate;
let b: X509Certificate;

before(async () => {
  [a, b] = await Promise.all([caCertificate(), caCertificate()]);
});

describe('X509BundleSet', () => {
  it('holds one bundle per trust domain, sorted by name; a later bundle wins', () => {
    const first = X509Bundle.fromAuthorities(td, [a]);
    const second = X509Bundle.fromAuthorities(td, [b]);
    const other = X509Bundle.empty(otherTd);
    const z = X509Bundle.empty(zTd);
    const set = X509BundleSet.of(z, first, other, second);
    assert.equal(set.size, 3);
    assert.deepEqual(
      set.bundles().map((x) => x.trustDomain.name),
      ['example.org', 'other.org', 'z.org'],
    );
    assert.equal(set.get(td), second);
    assert.deepEqual([...set], set.bundles());
    assert.ok(new X509BundleSet([first]).has(td));
    assert.equal(new X509BundleSet().size, 0);
  });

  it('looks up bundles and throws BundleNotFoundError for a missing trust domain', () => {
    const bundle = X509Bundle.fromAuthorities(td, [a]);
    const set = X509BundleSet.of(bundle);
    assert.equal(set.getX509BundleForTrustDomain(td), bundle);
    assert.equal(set.get(otherTd), undefined);
    assert.equal(set.has(otherTd), false);
    assert.throws(
      () => set.getX509BundleForTrustDomain(otherTd),
      (err: unknown) => {
        assert.ok(err instanceof BundleNotFoundError);
        assert.equal(err.trustDomain, 'other.org');
        assert.match(err.message, /no X\.509 bundle for trust domain "other.org"/);
        return true;
      },
    );
  });

  it('is immutable: with/without return new sets and leave the original as it was', () => {
    const set = X509BundleSet.of(X509Bundle.fromAuthorities(td, [a]));
    const replaced = set.with(X509Bundle.fromAuthorities(td, [b]));
    const added = set.with(X509Bundle.empty(otherTd));
    const removed = set.without(td);
    assert.ok(set.get(td)?.hasAuthority(a));
    assert.ok(replaced.get(td)?.hasAuthority(b));
    assert.equal(set.size, 1);
    assert.equal(added.size, 2);
    assert.equal(removed.size, 0);
    assert.equal(set.without(otherTd), set);
    assert.ok(Object.isFrozen(set));
    assert.ok(Object.isFrozen(set.bundles()));
    assert.throws(() => {
      (set.bundles() as X509Bundle[]).push(X509Bundle.empty(otherTd));
    }, TypeError);
  });

  it('hands out a snapshot: a set taken before a change does not see it', () => {
    const before = X509BundleSet.of(X509Bundle.fromAuthorities(td, [a]));
    const snapshot = before.bundles();
    before.with(X509Bundle.empty(otherTd));
    assert.equal(snapshot.length, 1);
    assert.equal(before.bundles().length, 1);
  });

  it('equals compares the bundles of every trust domain', () => {
    const s1 = X509BundleSet.of(X509Bundle.fromAuthorities(td, [a]), X509Bundle.empty(otherTd));
    const s2 = X509BundleSet.of(X509Bundle.empty(otherTd), X509Bundle.fromAuthorities(td, [a]));
    assert.ok(s1.equals(s2));
    assert.equal(s1.equals(s1.with(X509Bundle.fromAuthorities(td, [b]))), false);
    assert.equal(s1.equals(s1.without(otherTd)), false);
    assert.equal(s1.equals(s1.without(otherTd).with(X509Bundle.empty(zTd))), false);
  });

  it('refuses anything that is not an X509Bundle', () => {
    throwsWith(
      () => new X509BundleSet([JwtBundle.empty(td) as unknown as X509Bundle]),
      InvalidArgumentError,
      /holds only X\.509 bundles/,
    );
    assert.equal(new X509BundleSet([X509Bundle.empty(td)]).size, 1);
  });
});
