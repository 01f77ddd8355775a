import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  matchAny,
  matchId,
  matchMemberOf,
  matchOneOf,
  SpiffeId,
  TrustDomain,
  type Matcher,
} from '../../src/spiffeid/index.js';
import { assertInvalidArgument } from './helpers.js';

const foo = SpiffeId.parse('spiffe://foo.test');
const fooA = SpiffeId.parse('spiffe://foo.test/A');
const fooB = SpiffeId.parse('spiffe://foo.test/B');
const fooC = SpiffeId.parse('spiffe://foo.test/sub/C');
const fooLowerA = SpiffeId.parse('spiffe://foo.test/a');
const barA = SpiffeId.parse('spiffe://bar.test/A');
const lookalikeA = SpiffeId.parse('spiffe://foo.test.evil/A');
const all = [foo, fooA, fooB, fooC, fooLowerA, barA, lookalikeA];

function accepted(m: Matcher): string[] {
  return all.filter((id) => m(id)).map((id) => id.toString());
}

describe('matchers', () => {
  it('matchAny accepts every ID', () => {
    assert.deepEqual(
      accepted(matchAny()),
      all.map((id) => id.toString()),
    );
  });

  it('matchId accepts exactly that ID (compared by value, case-sensitive)', () => {
    assert.deepEqual(accepted(matchId(fooA)), ['spiffe://foo.test/A']);
    assert.equal(matchId(fooA)(SpiffeId.parse('spiffe://foo.test/A')), true);
    assert.deepEqual(accepted(matchId(foo)), ['spiffe://foo.test']);
  });

  it('matchOneOf accepts exactly the listed IDs', () => {
    assert.deepEqual(accepted(matchOneOf(fooA, fooB)), [
      'spiffe://foo.test/A',
      'spiffe://foo.test/B',
    ]);
    assert.deepEqual(accepted(matchOneOf(fooC)), ['spiffe://foo.test/sub/C']);
    assert.equal(matchOneOf(fooA, fooB)(SpiffeId.parse('spiffe://foo.test/B')), true);
  });

  it('matchOneOf() with no IDs accepts nothing', () => {
    assert.deepEqual(accepted(matchOneOf()), []);
  });

  it('matchMemberOf accepts exactly the IDs of that trust domain', () => {
    assert.deepEqual(accepted(matchMemberOf(TrustDomain.parse('foo.test'))), [
      'spiffe://foo.test',
      'spiffe://foo.test/A',
      'spiffe://foo.test/B',
      'spiffe://foo.test/sub/C',
      'spiffe://foo.test/a',
    ]);
    assert.deepEqual(accepted(matchMemberOf(TrustDomain.parse('bar.test'))), [
      'spiffe://bar.test/A',
    ]);
    // no suffix or prefix matching of trust domain names
    assert.deepEqual(accepted(matchMemberOf(TrustDomain.parse('test'))), []);
    assert.deepEqual(accepted(matchMemberOf(TrustDomain.parse('foo.tes'))), []);
  });

  it('matchers built from values that are not SpiffeIds or TrustDomains throw at once', () => {
    const untypedId = matchId as (expected: unknown) => Matcher;
    const untypedOneOf = matchOneOf as (...expected: unknown[]) => Matcher;
    const untypedMemberOf = matchMemberOf as (td: unknown) => Matcher;
    assertInvalidArgument(() => untypedId('spiffe://foo.test/A'), 'matchId');
    assertInvalidArgument(() => untypedId(undefined), 'matchId');
    assertInvalidArgument(() => untypedOneOf(fooA, 'spiffe://foo.test/B'), 'matchOneOf');
    assertInvalidArgument(() => untypedMemberOf('foo.test'), 'matchMemberOf');
    assertInvalidArgument(() => untypedMemberOf(undefined), 'matchMemberOf');
    // positive controls with real values
    assert.equal(untypedId(fooA)(fooA), true);
    assert.equal(untypedOneOf(fooA, fooB)(fooB), true);
    assert.equal(untypedMemberOf(foo.trustDomain)(fooA), true);
  });
});
