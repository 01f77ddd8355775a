// Walks every byte value, and every UTF-16 code unit, through each position where the SPIFFE-ID
// standard restricts characters. The expected sets are written here independently of src/.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  SpiffeId,
  TrustDomain,
  validatePath,
  validatePathSegment,
} from '../../src/spiffeid/index.js';
import { assertInvalidId, assertInvalidTd } from './helpers.js';

const TRUST_DOMAIN_SET = /^[a-z0-9._-]$/;
const PATH_SET = /^[a-zA-Z0-9._-]$/;
const SLASH = 0x2f;

function accepts(fn: () => unknown): boolean {
  try {
    fn();
    return true;
  } catch {
    return false;
  }
}

describe('every byte value 0-255', () => {
  it('the expected sets have 39 (trust domain) and 65 (path) members', () => {
    let td = 0;
    let path = 0;
    for (let b = 0; b < 256; b++) {
      const c = String.fromCharCode(b);
      if (TRUST_DOMAIN_SET.test(c)) td++;
      if (PATH_SET.test(c)) path++;
    }
    assert.equal(td, 39);
    assert.equal(path, 65);
  });

  it('in a bare trust domain name: exactly [a-z0-9._-] passes', () => {
    for (let b = 0; b < 256; b++) {
      const c = String.fromCharCode(b);
      const name = `a${c}b`;
      if (TRUST_DOMAIN_SET.test(c)) {
        assert.equal(TrustDomain.parse(name).name, name);
      } else {
        assertInvalidTd(() => TrustDomain.parse(name), 'trust-domain-char', name);
      }
    }
  });

  it('in the trust domain of a SPIFFE ID: exactly [a-z0-9._-] passes ("/" ends the trust domain)', () => {
    for (let b = 0; b < 256; b++) {
      const c = String.fromCharCode(b);
      const input = `spiffe://a${c}b/path`;
      if (b === SLASH) {
        const id = SpiffeId.parse(input);
        assert.equal(id.trustDomain.name, 'a');
        assert.equal(id.path, '/b/path');
      } else if (TRUST_DOMAIN_SET.test(c)) {
        assert.equal(SpiffeId.parse(input).trustDomain.name, `a${c}b`);
        assert.equal(TrustDomain.parse(input).name, `a${c}b`);
      } else {
        assertInvalidId(() => SpiffeId.parse(input), 'trust-domain-char', input);
        assertInvalidTd(() => TrustDomain.parse(input), 'trust-domain-char', input);
      }
    }
  });

  it('in a path: exactly [a-zA-Z0-9._-] passes ("/" separates segments)', () => {
    for (let b = 0; b < 256; b++) {
      const c = String.fromCharCode(b);
      const input = `spiffe://td/a${c}b`;
      const path = `/a${c}b`;
      if (b === SLASH) {
        assert.equal(SpiffeId.parse(input).path, '/a/b');
        assert.equal(
          accepts(() => {
            validatePath(path);
          }),
          true,
        );
      } else if (PATH_SET.test(c)) {
        assert.equal(SpiffeId.parse(input).path, path);
        assert.equal(
          accepts(() => {
            validatePath(path);
          }),
          true,
        );
      } else {
        assertInvalidId(() => SpiffeId.parse(input), 'path-char', input);
        assertInvalidId(
          () => {
            validatePath(path);
          },
          'path-char',
          path,
        );
      }
    }
  });

  it('in a path segment: exactly [a-zA-Z0-9._-] passes, "/" included in the rejects', () => {
    const td = TrustDomain.parse('td');
    for (let b = 0; b < 256; b++) {
      const c = String.fromCharCode(b);
      const segment = `a${c}b`;
      if (PATH_SET.test(c)) {
        assert.equal(SpiffeId.fromSegments(td, segment).path, `/${segment}`);
      } else {
        assertInvalidId(
          () => {
            validatePathSegment(segment);
          },
          'path-char',
          segment,
        );
        assertInvalidId(() => SpiffeId.fromSegments(td, segment), 'path-char', segment);
      }
    }
  });
});

describe('UTF-16 code units above 0xff', () => {
  it('are rejected, in particular every one whose low byte is an allowed character', () => {
    // A check that looked at `code & 0xff`, or at one byte of a UTF-16 encoding, would pass these.
    // Every high byte is combined with every allowed low byte; a stride covers the rest.
    const codes: number[] = [];
    for (let high = 0x01; high <= 0xff; high++) {
      for (let low = 0; low <= 0xff; low++) {
        if (PATH_SET.test(String.fromCharCode(low))) codes.push((high << 8) | low);
      }
    }
    for (let code = 0x100; code <= 0xffff; code += 97) codes.push(code);
    assert.ok(codes.length > 17_000);
    for (const code of codes) {
      const c = String.fromCharCode(code);
      assert.equal(
        accepts(() => TrustDomain.parse(`a${c}`)),
        false,
        `U+${code.toString(16)} in td`,
      );
      assert.equal(
        accepts(() => SpiffeId.parse(`spiffe://td/a${c}`)),
        false,
        `U+${code.toString(16)} in path`,
      );
    }
    // positive control: the same shapes with an allowed character pass
    assert.equal(
      accepts(() => TrustDomain.parse('aa')),
      true,
    );
    assert.equal(
      accepts(() => SpiffeId.parse('spiffe://td/aa')),
      true,
    );
  });

  const lookalikes: readonly (readonly [string, string])[] = [
    ['KELVIN SIGN (lower-cases to k)', '\u212a'],
    ['LATIN SMALL LETTER LONG S (upper-cases to S)', '\u017f'],
    ['LATIN CAPITAL LETTER I WITH DOT ABOVE', '\u0130'],
    ['CYRILLIC SMALL LETTER A', '\u0430'],
    ['FULLWIDTH SOLIDUS', '\uff0f'],
    ['FULLWIDTH LATIN SMALL LETTER A', '\uff41'],
    ['DIVISION SLASH', '\u2215'],
    ['ONE DOT LEADER', '\u2024'],
    ['ZERO WIDTH SPACE', '\u200b'],
    ['BYTE ORDER MARK', '\ufeff'],
    ['NO-BREAK SPACE', '\u00a0'],
    ['NEXT LINE', '\u0085'],
    ['emoji (surrogate pair)', '\u{1F600}'],
    ['lone high surrogate', '\ud800'],
    ['lone low surrogate', '\udc00'],
  ];
  for (const [name, c] of lookalikes) {
    it(`rejects ${name} in the trust domain and in the path`, () => {
      assertInvalidId(
        () => SpiffeId.parse(`spiffe://ex${c}mple.org/x`),
        'trust-domain-char',
        `spiffe://ex${c}mple.org/x`,
      );
      assertInvalidId(
        () => SpiffeId.parse(`spiffe://example.org/${c}dmin`),
        'path-char',
        `spiffe://example.org/${c}dmin`,
      );
      assertInvalidTd(
        () => TrustDomain.parse(`ex${c}mple.org`),
        'trust-domain-char',
        `ex${c}mple.org`,
      );
      assertInvalidId(
        () => {
          validatePathSegment(`${c}dmin`);
        },
        'path-char',
        `${c}dmin`,
      );
    });
  }
});
