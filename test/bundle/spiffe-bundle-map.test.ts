import assert from 'node:assert/strict';
import type { X509Certificate } from 'node:crypto';
import { before, describe, it } from 'node:test';
import fc from 'fast-check';
import {
  InvalidBundleError,
  marshalSpiffeBundleMap,
  parseSpiffeBundleMap,
  SpiffeBundle,
  SpiffeBundleSet,
} from '../../src/bundle/index.js';
import { TrustDomain } from '../../src/spiffeid/index.js';
import {
  caCertificate,
  hostileInputs,
  jwtEntry,
  onlySpiffeErrors,
  otherTd,
  publicKey,
  td,
  throwsWith,
  x509Entry,
} from './fixtures.js';

let a: X509Certificate;
let b: X509Certificate;

before(async () => {
  [a, b] = await Promise.all([caCertificate(), caCertificate('ec-p256', otherTd)]);
});

const rejects = (text: string, message: RegExp): void => {
  throwsWith(() => parseSpiffeBundleMap(text), InvalidBundleError, message);
};

describe('parseSpiffeBundleMap', () => {
  it('reads a bundle per trust domain into a SpiffeBundleSet', () => {
    const text = JSON.stringify({
      'other.org': { keys: [x509Entry(b)], spiffe_sequence: 3 },
      'example.org': { keys: [x509Entry(a), jwtEntry('k')], spiffe_refresh_hint: 60 },
    });
    const set = parseSpiffeBundleMap(text);
    assert.ok(set instanceof SpiffeBundleSet);
    assert.deepEqual(
      set.bundles().map((x) => x.trustDomain.name),
      ['example.org', 'other.org'],
    );
    assert.ok(set.getX509BundleForTrustDomain(td).hasAuthority(a));
    assert.equal(set.getX509BundleForTrustDomain(td).hasAuthority(b), false);
    assert.equal(set.getBundleForTrustDomain(otherTd).sequenceNumber, 3n);
    assert.equal(set.getBundleForTrustDomain(td).refreshHint, 60);
    assert.ok(parseSpiffeBundleMap(new TextEncoder().encode(text)).equals(set));
  });

  it('accepts an empty map, and trust domains written as SPIFFE IDs (as the Workload API keys them)', () => {
    assert.equal(parseSpiffeBundleMap('{}').size, 0);
    const set = parseSpiffeBundleMap('{"spiffe://example.org":{"keys":[]}}');
    assert.ok(set.has(td));
  });

  it('rejects a duplicate member name, which JSON.parse would silently collapse', () => {
    rejects(
      '{"example.org":{"keys":[]},"example.org":{"keys":[]}}',
      /duplicate member name "example.org"/,
    );
  });

  it('rejects two names for the same trust domain', () => {
    rejects(
      '{"example.org":{"keys":[]},"spiffe://example.org":{"keys":[]}}',
      /members "example.org" and "spiffe:\/\/example.org" name the same trust domain/,
    );
  });

  for (const [name, key, message] of [
    ['upper case', 'Example.org', /member "Example.org" is not a trust domain/],
    ['an empty name', '', /member "" is not a trust domain/],
    ['a port', 'example.org:8080', /is not a trust domain/],
    [
      'a SPIFFE ID with a path',
      'spiffe://example.org/workload',
      /must be a trust domain name or the SPIFFE ID of a trust domain, without a path/,
    ],
    ['a URL', 'https://example.org', /is not a trust domain/],
  ] as const) {
    it(`rejects a member name with ${name}`, () => {
      rejects(JSON.stringify({ [key]: { keys: [] } }), message);
    });
  }

  it('rejects a document that is not an object, and names the trust domain of a bad bundle', () => {
    rejects('[]', /expected a JSON object from trust domain to SPIFFE bundle/);
    rejects(
      '{"example.org":[]}',
      /bundle for trust domain "example.org": the document is not a JSON object/,
    );
    rejects(
      '{"other.org":{"keys":[]},"example.org":{}}',
      /bundle for trust domain "example.org": "keys" must be present/,
    );
    rejects(
      '{"example.org":{"keys":[],"spiffe_sequence":18446744073709551616}}',
      /trust domain "example.org": "spiffe_sequence" 18446744073709551616 is outside/,
    );
  });

  it('throws nothing but SpiffeError subclasses on hostile input (property)', () => {
    fc.assert(
      fc.property(hostileInputs, (input) => {
        onlySpiffeErrors(() => parseSpiffeBundleMap(input));
      }),
      { numRuns: 500 },
    );
    fc.assert(
      fc.property(fc.dictionary(fc.string({ maxLength: 20 }), fc.constant({ keys: [] })), (map) => {
        onlySpiffeErrors(() => parseSpiffeBundleMap(JSON.stringify(map)));
      }),
      { numRuns: 300 },
    );
  });
});

describe('marshalSpiffeBundleMap', () => {
  it('writes trust domain names in order and reads back to an equal set', () => {
    const set = SpiffeBundleSet.of(
      SpiffeBundle.empty(otherTd)
        .withX509Authority(b)
        .withSequenceNumber(2n ** 64n - 1n),
      SpiffeBundle.empty(td).withX509Authority(a).withJwtAuthority('k', publicKey()),
      SpiffeBundle.empty(TrustDomain.parse('empty.org')),
    );
    const text = marshalSpiffeBundleMap(set);
    assert.deepEqual(Object.keys(JSON.parse(text) as object), [
      'empty.org',
      'example.org',
      'other.org',
    ]);
    assert.match(text, /"empty\.org":\{"keys":\[\]\}/);
    assert.match(text, /"spiffe_sequence":18446744073709551615/);
    assert.ok(parseSpiffeBundleMap(text).equals(set));
  });

  it('writes an empty set as {}', () => {
    assert.equal(marshalSpiffeBundleMap(new SpiffeBundleSet()), '{}');
  });
});
