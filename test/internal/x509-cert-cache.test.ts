import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { DecodeError } from '../../src/internal/der.js';
import {
  BoundedLru,
  cachedCertificate,
  clearCertificateCache,
  parseExactCertificate,
} from '../../src/internal/x509/cert-cache.js';
import { TestCA } from '../../src/testing/test-ca.js';

describe('certificate cache', () => {
  let der: Uint8Array;
  before(async () => {
    const ca = await TestCA.create({ trustDomain: 'example.org' });
    der = new Uint8Array(ca.x509Authorities[0]!.raw);
  });

  it('returns the same object for the same bytes, and a new one after clearing', () => {
    clearCertificateCache();
    const first = cachedCertificate(der);
    assert.ok(cachedCertificate(new Uint8Array(der)) === first);
    clearCertificateCache();
    assert.ok(cachedCertificate(der) !== first);
  });

  it('accepts exactly one DER certificate: no trailing bytes, no PEM', () => {
    assert.ok(parseExactCertificate(der).raw.equals(der));
    const trailing = new Uint8Array([...der, 0]);
    assert.throws(() => cachedCertificate(trailing), DecodeError);
    const pem = new TextEncoder().encode(parseExactCertificate(der).toString());
    assert.throws(() => cachedCertificate(pem), DecodeError);
    assert.throws(() => cachedCertificate(new Uint8Array([0x30, 0x03, 1, 2, 3])), DecodeError);
  });

  it('evicts the least recently used entry beyond its capacity', () => {
    const lru = new BoundedLru<number>(2);
    lru.set('a', 1);
    lru.set('b', 2);
    assert.equal(lru.get('a'), 1); // 'a' is now the most recent
    lru.set('c', 3);
    assert.equal(lru.size, 2);
    assert.equal(lru.get('b'), undefined);
    assert.equal(lru.get('a'), 1);
    assert.equal(lru.get('c'), 3);
    lru.set('a', 4);
    assert.equal(lru.get('a'), 4);
    assert.equal(lru.size, 2);
  });
});
