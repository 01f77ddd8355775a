import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SpiffeId, TrustDomain, type SpiffeIdRule } from '../../src/spiffeid/index.js';
import { assertInvalidArgument, assertInvalidTd } from './helpers.js';

describe('TrustDomain.parse', () => {
  const validNames = [
    'trustdomain',
    'example.org',
    'trust-domain_1.example',
    '0',
    'a.b.c.d',
    '-._',
  ];
  for (const name of validNames) {
    it(`accepts the bare name ${name}`, () => {
      const td = TrustDomain.parse(name);
      assert.equal(td.name, name);
      assert.equal(td.toString(), name);
    });
  }

  const validIds: readonly (readonly [string, string])[] = [
    ['spiffe://trustdomain', 'trustdomain'],
    ['spiffe://trustdomain/path', 'trustdomain'],
    ['spiffe://example.org/ns/prod/sa/web', 'example.org'],
  ];
  for (const [input, name] of validIds) {
    it(`takes the trust domain of the SPIFFE ID ${input}`, () => {
      assert.equal(TrustDomain.parse(input).name, name);
    });
  }

  const invalid: readonly (readonly [string, SpiffeIdRule])[] = [
    // bare names
    ['', 'missing-trust-domain'],
    ['Trustdomain', 'trust-domain-char'],
    ['EXAMPLE.ORG', 'trust-domain-char'],
    ['td:80', 'trust-domain-char'],
    ['td/', 'trust-domain-char'],
    ['td/path', 'trust-domain-char'],
    ['user@td', 'trust-domain-char'],
    ['[::1]', 'trust-domain-char'],
    ['%74d', 'trust-domain-char'],
    [' td', 'trust-domain-char'],
    ['td\n', 'trust-domain-char'],
    ['tdé', 'trust-domain-char'],
    ['spiffe:td', 'trust-domain-char'],
    // anything containing ":/" is read as a SPIFFE ID and must be a valid one, path included
    ['spiffe:/td', 'scheme'],
    ['td:/x', 'scheme'],
    ['SPIFFE://td', 'scheme'],
    ['https://td', 'scheme'],
    ['spiffe://', 'missing-trust-domain'],
    ['spiffe:///path', 'missing-trust-domain'],
    ['spiffe://Td', 'trust-domain-char'],
    ['spiffe://td:80/x', 'trust-domain-char'],
    ['spiffe://td/', 'path-trailing-slash'],
    ['spiffe://td//x', 'path-empty-segment'],
    ['spiffe://td/..', 'path-dot-segment'],
    ['spiffe://td/a$', 'path-char'],
  ];
  for (const [input, rule] of invalid) {
    it(`rejects ${JSON.stringify(input)} (${rule})`, () => {
      assertInvalidTd(() => TrustDomain.parse(input), rule, input);
    });
  }

  it('says when the input was read as a SPIFFE ID', () => {
    assert.throws(
      () => TrustDomain.parse('spiffe://td/'),
      (err: Error) => err.message.includes('read as a SPIFFE ID'),
    );
  });

  it('accepts 255-byte names and rejects 256-byte ones, bare and inside an ID', () => {
    const ok = 'a'.repeat(255);
    assert.equal(TrustDomain.parse(ok).name, ok);
    assert.equal(TrustDomain.parse(`spiffe://${ok}/x`).name, ok);
    const bad = 'a'.repeat(256);
    assertInvalidTd(() => TrustDomain.parse(bad), 'trust-domain-too-long', bad);
    assertInvalidTd(
      () => TrustDomain.parse(`spiffe://${bad}/x`),
      'trust-domain-too-long',
      `spiffe://${bad}/x`,
    );
  });

  it('applies the 2048-byte ID bound to SPIFFE ID input', () => {
    const ok = `spiffe://td/${'p'.repeat(2048 - 12)}`;
    assert.equal(ok.length, 2048);
    assert.equal(TrustDomain.parse(ok).name, 'td');
    const bad = `${ok}p`;
    assertInvalidTd(() => TrustDomain.parse(bad), 'too-long', bad);
  });

  it('rejects values that are not strings with InvalidArgumentError', () => {
    for (const value of [undefined, null, 1, {}, Symbol('td')]) {
      assertInvalidArgument(() => TrustDomain.parse(value as string), 'as a string');
    }
    assert.equal(TrustDomain.parse('td').name, 'td');
  });
});

describe('TrustDomain values', () => {
  const td = TrustDomain.parse('example.org');

  it('id() and idString() give the trust domain ID', () => {
    const id = td.id();
    assert.ok(id instanceof SpiffeId);
    assert.equal(id.toString(), 'spiffe://example.org');
    assert.equal(id.path, '');
    assert.ok(id.memberOf(td));
    assert.equal(td.idString(), 'spiffe://example.org');
  });

  it('equals compares names', () => {
    assert.equal(td.equals(TrustDomain.parse('example.org')), true);
    assert.equal(td.equals(TrustDomain.parse('spiffe://example.org/x')), true);
    assert.equal(td.equals(TrustDomain.parse('example.com')), false);
    assert.equal(td.equals(TrustDomain.parse('example.org.')), false);
    const equals = (other: unknown): boolean => td.equals(other as TrustDomain);
    assert.equal(equals('example.org'), false);
    assert.equal(equals({ name: 'example.org' }), false);
    assert.equal(equals(undefined), false);
  });

  it('compare orders by name and sorts', () => {
    const names = ['b.org', 'a.org', 'a-b.org', 'a.org.x', '0.org'];
    const sorted = names
      .map((n) => TrustDomain.parse(n))
      .sort((a, b) => a.compare(b))
      .map((t) => t.name);
    assert.deepEqual(sorted, ['0.org', 'a-b.org', 'a.org', 'a.org.x', 'b.org']);
    assert.equal(td.compare(TrustDomain.parse('example.org')), 0);
    assert.ok(td.compare(TrustDomain.parse('example.com')) > 0);
    assert.ok(td.compare(TrustDomain.parse('example.net')) > 0);
    assert.ok(td.compare(TrustDomain.parse('example.zzz')) < 0);
  });

  it('toString and toJSON give the name', () => {
    assert.equal(String(td), 'example.org');
    assert.equal(td.toJSON(), 'example.org');
    assert.equal(JSON.stringify({ td }), '{"td":"example.org"}');
    assert.ok(TrustDomain.parse(JSON.parse(JSON.stringify(td)) as string).equals(td));
  });

  it('is frozen', () => {
    assert.ok(Object.isFrozen(td));
    const target = td as unknown as Record<string, unknown>;
    assert.throws(() => {
      target['name'] = 'evil.org';
    }, TypeError);
    assert.throws(() => {
      target['extra'] = 1;
    }, TypeError);
    assert.equal(td.name, 'example.org');
  });

  it('cannot be constructed directly or from an unvalidated name, even from plain JavaScript', () => {
    const Ctor = TrustDomain as unknown as new (...args: unknown[]) => unknown;
    assertInvalidArgument(() => new Ctor('EVIL/x'), 'TrustDomain.parse');
    assertInvalidArgument(() => new Ctor('evil', Symbol('TrustDomain')), 'TrustDomain.parse');
    assert.equal(
      (TrustDomain as unknown as Record<string, unknown>)['fromValidatedName'],
      undefined,
    );
  });
});
