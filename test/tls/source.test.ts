import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { X509BundleSet } from '../../src/bundle/x509-bundle-set.js';
import {
  BundleNotFoundError,
  InvalidArgumentError,
  TlsConfigurationError,
} from '../../src/errors.js';
import { TrustDomain } from '../../src/spiffeid/index.js';
import { MutableX509Source, staticX509Source } from '../../src/tls/index.js';
import { type World, world } from './helpers.js';

let w: World;
before(async () => {
  w = await world();
});

describe('staticX509Source', () => {
  it('hands out its material, is frozen and has no onUpdate', () => {
    const src = staticX509Source(w.srvA, w.bundles);
    assert.equal(src.getX509Svid(), w.srvA);
    assert.equal(src.getX509BundleSet(), w.bundles);
    assert.equal(
      src.getX509BundleForTrustDomain(TrustDomain.parse('b.org')),
      w.bundles.get(TrustDomain.parse('b.org')),
    );
    assert.throws(
      () => src.getX509BundleForTrustDomain(TrustDomain.parse('c.org')),
      BundleNotFoundError,
    );
    assert.equal('onUpdate' in src, false);
    assert.ok(Object.isFrozen(src));
  });

  it('accepts a single bundle and works without an SVID', () => {
    const src = staticX509Source(undefined, w.a.x509Bundle());
    assert.equal(src.getX509BundleSet().size, 1);
    assert.throws(() => src.getX509Svid(), TlsConfigurationError);
  });

  it('refuses anything but bundles', () => {
    assert.throws(
      () => staticX509Source(w.srvA, [] as unknown as X509BundleSet),
      InvalidArgumentError,
    );
  });
});

describe('MutableX509Source', () => {
  it('replaces material atomically and notifies every listener synchronously', () => {
    const src = new MutableX509Source(w.srvA, w.bundles);
    const seen: string[] = [];
    const off1 = src.onUpdate(() =>
      seen.push(`1:${src.getX509Svid().id.toString()}:${src.getX509BundleSet().size}`),
    );
    src.onUpdate(() => seen.push('2'));
    src.update({ svid: w.cliA, bundles: w.a.x509Bundle() });
    assert.deepEqual(seen, ['1:spiffe://a.org/client:1', '2']);
    off1();
    src.update({ bundles: w.bundles });
    assert.deepEqual(seen, ['1:spiffe://a.org/client:1', '2', '2']);
    assert.equal(src.listenerCount, 1);
  });

  it('keeps the SVID when only bundles change, and can drop it', () => {
    const src = new MutableX509Source(w.srvA, w.bundles);
    src.update({ bundles: X509BundleSet.of(w.a.x509Bundle()) });
    assert.equal(src.getX509Svid(), w.srvA);
    src.update({ svid: undefined });
    assert.throws(() => src.getX509Svid(), TlsConfigurationError);
    assert.equal(
      src.getX509BundleForTrustDomain(TrustDomain.parse('a.org')).trustDomain.name,
      'a.org',
    );
  });

  it('a throwing listener does not stop the others; the first error is rethrown', () => {
    const src = new MutableX509Source(w.srvA, w.bundles);
    let second = 0;
    src.onUpdate(() => {
      throw new Error('first');
    });
    src.onUpdate(() => (second += 1));
    assert.throws(() => {
      src.update({ bundles: w.bundles });
    }, /first/);
    assert.equal(second, 1);
    assert.throws(() => src.onUpdate('x' as unknown as () => void), InvalidArgumentError);
  });

  it('the same listener registered twice is two subscriptions', () => {
    const src = new MutableX509Source(w.srvA, w.bundles);
    let n = 0;
    const l = (): void => {
      n += 1;
    };
    const off = src.onUpdate(l);
    src.onUpdate(l);
    src.update({});
    assert.equal(n, 2);
    off();
    src.update({});
    assert.equal(n, 3);
  });
});
