import assert from 'node:assert/strict';
import type { KeyObject } from 'node:crypto';
import { before, describe, it } from 'node:test';
import {
  BundleNotFoundError,
  InvalidArgumentError,
  JwtBundle,
  JwtBundleSet,
  X509Bundle,
} from '../../src/bundle/index.js';
import { TrustDomain } from '../../src/spiffeid/index.js';
import { otherTd, publicKey, td, throwsWith } from './fixtures.js';

const zTd = TrustDomain.parse('z.org');
let a: KeyObject;
let b: KeyObject;

before(() => {
  a = publicKey('ec-p256');
  b = publicKey('ec-p384');
});

const withKey = (trustDomain: TrustDomain, key: KeyObject): JwtBundle =>
  JwtBundle.fromAuthorities(trustDomain, { k: key });

describe('JwtBundleSet', () => {
  it('holds one bundle per trust domain, sorted by name; a later bundle wins', () => {
    const first = withKey(td, a);
    const second = withKey(td, b);
    const other = JwtBundle.empty(otherTd);
    const z = JwtBundle.empty(zTd);
    const set = JwtBundleSet.of(z, first, other, second);
    assert.equal(set.size, 3);
    assert.deepEqual(
      set.bundles().map((x) => x.trustDomain.name),
      ['example.org', 'other.org', 'z.org'],
    );
    assert.equal(set.get(td), second);
    assert.deepEqual([...set], set.bundles());
    assert.ok(new JwtBundleSet([first]).has(td));
    assert.equal(new JwtBundleSet().size, 0);
  });

  it('looks up bundles and throws BundleNotFoundError for a missing trust domain', () => {
    const bundle = withKey(td, a);
    const set = JwtBundleSet.of(bundle);
    assert.equal(set.getJwtBundleForTrustDomain(td), bundle);
    assert.equal(set.get(otherTd), undefined);
    assert.equal(set.has(otherTd), false);
    assert.throws(
      () => set.getJwtBundleForTrustDomain(otherTd),
      (err: unknown) => {
        assert.ok(err instanceof BundleNotFoundError);
        assert.equal(err.trustDomain, 'other.org');
        assert.match(err.message, /no JWT bundle for trust domain "other.org"/);
        return true;
      },
    );
  });

  it('is immutable: with/without return new sets and leave the original as it was', () => {
    const set = JwtBundleSet.of(withKey(td, a));
    const replaced = set.with(withKey(td, b));
    const added = set.with(JwtBundle.empty(otherTd));
    const removed = set.without(td);
    assert.ok(set.get(td)?.findAuthority('k')?.equals(a));
    assert.ok(replaced.get(td)?.findAuthority('k')?.equals(b));
    assert.equal(set.size, 1);
    assert.equal(added.size, 2);
    assert.equal(removed.size, 0);
    assert.equal(set.without(otherTd), set);
    assert.ok(Object.isFrozen(set));
    assert.ok(Object.isFrozen(set.bundles()));
    assert.throws(() => {
      (set.bundles() as JwtBundle[]).push(JwtBundle.empty(otherTd));
    }, TypeError);
  });

  it('hands out a snapshot: a set taken before a change does not see it', () => {
    const before = JwtBundleSet.of(withKey(td, a));
    const snapshot = before.bundles();
    before.with(JwtBundle.empty(otherTd));
    assert.equal(snapshot.length, 1);
    assert.equal(before.bundles().length, 1);
  });

  it('equals compares the bundles of every trust domain', () => {
    const s1 = JwtBundleSet.of(withKey(td, a), JwtBundle.empty(otherTd));
    const s2 = JwtBundleSet.of(JwtBundle.empty(otherTd), withKey(td, a));
    assert.ok(s1.equals(s2));
    assert.equal(s1.equals(s1.with(withKey(td, b))), false);
    assert.equal(s1.equals(s1.without(otherTd)), false);
    assert.equal(s1.equals(s1.without(otherTd).with(JwtBundle.empty(zTd))), false);
  });

  it('refuses anything that is not a JwtBundle', () => {
    throwsWith(
      () => new JwtBundleSet([X509Bundle.empty(td) as unknown as JwtBundle]),
      InvalidArgumentError,
      /holds only JWT bundles/,
    );
    assert.equal(new JwtBundleSet([JwtBundle.empty(td)]).size, 1);
  });
});
