// Property tests: generated valid IDs round-trip unchanged; arbitrary strings never make the
// parsers throw anything but the SDK's errors; any forbidden character added to a valid ID rejects.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  InvalidSpiffeIdError,
  InvalidTrustDomainError,
  SpiffeId,
  TrustDomain,
  validatePath,
  validatePathSegment,
} from '../../src/spiffeid/index.js';

const TD_CHARS = 'abcdefghijklmnopqrstuvwxyz0123456789.-_';
const PATH_CHARS = `${TD_CHARS}ABCDEFGHIJKLMNOPQRSTUVWXYZ`;

const tdName = fc.string({
  unit: fc.constantFrom(...Array.from(TD_CHARS)),
  minLength: 1,
  maxLength: 40,
});
const segment = fc
  .string({ unit: fc.constantFrom(...Array.from(PATH_CHARS)), minLength: 1, maxLength: 16 })
  .filter((s) => s !== '.' && s !== '..');
const segments = fc.array(segment, { maxLength: 8 });
const validIdString = fc
  .tuple(tdName, segments)
  .map(([td, segs]) => `spiffe://${td}${segs.map((s) => `/${s}`).join('')}`);

/** Characters that are allowed nowhere in a SPIFFE ID after the scheme ('/' excluded). */
const forbiddenChar = fc
  .oneof(
    fc.nat({ max: 0x7f }).map((c) => String.fromCharCode(c)),
    fc.integer({ min: 0x80, max: 0xffff }).map((c) => String.fromCharCode(c)),
    fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
  )
  .filter((c) => !PATH_CHARS.includes(c) && c !== '/');

/** Strings of every shape: arbitrary UTF-16 (lone surrogates included), full Unicode, near-IDs. */
const anyUnit = fc.oneof(
  fc.constantFrom(
    ...Array.from(PATH_CHARS),
    '/',
    ':',
    '%',
    '?',
    '#',
    '@',
    '.',
    '\u0000',
    'é',
    '\u212a',
  ),
  fc.nat({ max: 0xffff }).map((c) => String.fromCharCode(c)),
);
const anyString = fc.oneof(
  fc.string(),
  fc.string({ unit: 'binary' }),
  fc.string({ unit: 'grapheme' }),
  fc.string({ unit: anyUnit, maxLength: 60 }),
  fc
    .tuple(
      fc.constantFrom('spiffe://', 'SPIFFE://', 'spiffe:/', 'spiffe:', 'spiffe:///', ''),
      fc.string({ unit: anyUnit, maxLength: 60 }),
    )
    .map(([a, b]) => a + b),
  fc.tuple(validIdString, fc.string({ unit: anyUnit, maxLength: 8 })).map(([a, b]) => a + b),
  fc.nat({ max: 3000 }).map((n) => `spiffe://td/${'a'.repeat(n)}`),
);

/** Runs `fn`; it may succeed or throw one of `allowed`, and nothing else. */
function onlyThrows(
  fn: () => void,
  ...allowed: (abstract new (...args: never[]) => Error)[]
): void {
  try {
    fn();
  } catch (err) {
    if (!allowed.some((cls) => err instanceof cls)) throw err;
  }
}

describe('property: round trips', () => {
  it('SpiffeId.parse(id.toString()) gives the same ID for generated valid IDs', () => {
    fc.assert(
      fc.property(tdName, segments, (td, segs) => {
        const id = SpiffeId.fromSegments(TrustDomain.parse(td), ...segs);
        const back = SpiffeId.parse(id.toString());
        assert.ok(back.equals(id));
        assert.equal(back.toString(), id.toString());
        assert.equal(back.trustDomain.name, td);
        assert.equal(back.path, segs.map((s) => `/${s}`).join(''));
        assert.ok(SpiffeId.fromPath(back.trustDomain, back.path).equals(id));
      }),
      { numRuns: 500 },
    );
  });

  it('valid ID strings parse to exactly themselves (nothing is normalised)', () => {
    fc.assert(
      fc.property(validIdString, (s) => {
        assert.equal(SpiffeId.parse(s).toString(), s);
        assert.equal(JSON.parse(JSON.stringify(SpiffeId.parse(s))), s);
      }),
      { numRuns: 500 },
    );
  });

  it('TrustDomain.parse round-trips names and takes them from IDs', () => {
    fc.assert(
      fc.property(tdName, segments, (name, segs) => {
        const td = TrustDomain.parse(name);
        assert.equal(td.name, name);
        assert.ok(TrustDomain.parse(td.toString()).equals(td));
        assert.ok(TrustDomain.parse(td.idString()).equals(td));
        const id = `spiffe://${name}${segs.map((s) => `/${s}`).join('')}`;
        assert.ok(TrustDomain.parse(id).equals(td));
      }),
      { numRuns: 500 },
    );
  });
});

describe('property: arbitrary input', () => {
  it('never throws anything but the SDK errors, and accepted input is kept verbatim', () => {
    fc.assert(
      fc.property(anyString, (s) => {
        onlyThrows(() => {
          assert.equal(SpiffeId.parse(s).toString(), s);
        }, InvalidSpiffeIdError);
        onlyThrows(() => {
          assert.equal(SpiffeId.fromUrl(s).toString(), s);
        }, InvalidSpiffeIdError);
        onlyThrows(() => {
          const td = TrustDomain.parse(s);
          if (!s.includes(':/')) assert.equal(td.name, s);
        }, InvalidTrustDomainError);
        onlyThrows(() => {
          validatePath(s);
        }, InvalidSpiffeIdError);
        onlyThrows(() => {
          validatePathSegment(s);
        }, InvalidSpiffeIdError);
      }),
      { numRuns: 1000 },
    );
  });

  it('strings with any non-ASCII character are always rejected', () => {
    const nonAscii = fc.integer({ min: 0x80, max: 0xffff }).map((c) => String.fromCharCode(c));
    fc.assert(
      fc.property(validIdString, fc.nat(), nonAscii, (id, at, c) => {
        const i = at % (id.length + 1);
        const mutated = id.slice(0, i) + c + id.slice(i);
        assert.throws(() => SpiffeId.parse(mutated), InvalidSpiffeIdError);
        assert.throws(() => TrustDomain.parse(mutated), InvalidTrustDomainError);
      }),
      { numRuns: 1000 },
    );
  });
});

describe('property: mutations of valid IDs', () => {
  it('inserting a forbidden character anywhere rejects', () => {
    fc.assert(
      fc.property(validIdString, fc.nat(), forbiddenChar, (id, at, c) => {
        const i = at % (id.length + 1);
        const mutated = id.slice(0, i) + c + id.slice(i);
        assert.throws(() => SpiffeId.parse(mutated), InvalidSpiffeIdError);
      }),
      { numRuns: 1000 },
    );
  });

  it('replacing any character after the scheme with a forbidden one rejects', () => {
    fc.assert(
      fc.property(validIdString, fc.nat(), forbiddenChar, (id, at, c) => {
        const i = 9 + (at % (id.length - 9));
        const mutated = id.slice(0, i) + c + id.slice(i + 1);
        assert.throws(() => SpiffeId.parse(mutated), InvalidSpiffeIdError);
      }),
      { numRuns: 1000 },
    );
  });

  it('an upper-case letter rejects in the trust domain and is accepted in the path', () => {
    const upper = fc.constantFrom(...Array.from('ABCDEFGHIJKLMNOPQRSTUVWXYZ'));
    fc.assert(
      fc.property(tdName, segment, fc.nat(), upper, (td, seg, at, c) => {
        const i = at % (td.length + 1);
        const badTd = td.slice(0, i) + c + td.slice(i);
        const bad = `spiffe://${badTd}/${seg}`;
        assert.throws(
          () => SpiffeId.parse(bad),
          (err: unknown) => err instanceof InvalidSpiffeIdError && err.rule === 'trust-domain-char',
        );
        // control: the same letter in the path is fine
        const j = at % (seg.length + 1);
        const ok = `spiffe://${td}/${seg.slice(0, j)}${c}${seg.slice(j)}`;
        assert.equal(SpiffeId.parse(ok).toString(), ok);
      }),
      { numRuns: 500 },
    );
  });

  it('a doubled, trailing or dot segment rejects', () => {
    fc.assert(
      fc.property(validIdString, segment, fc.constantFrom('//', '/./', '/../'), (id, seg, bad) => {
        assert.throws(() => SpiffeId.parse(`${id}${bad}${seg}`), InvalidSpiffeIdError);
        assert.throws(() => SpiffeId.parse(`${id}/${seg}/`), InvalidSpiffeIdError);
        assert.equal(SpiffeId.parse(`${id}/${seg}`).toString(), `${id}/${seg}`);
      }),
      { numRuns: 500 },
    );
  });
});
