import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  MAX_SPIFFE_ID_LENGTH,
  MAX_TRUST_DOMAIN_LENGTH,
  SpiffeId,
  TrustDomain,
  type SpiffeIdRule,
} from '../../src/spiffeid/index.js';
import { assertInvalidArgument, assertInvalidId, keptInput, pathOfLength } from './helpers.js';

const td = TrustDomain.parse('example.org');

describe('SpiffeId.parse', () => {
  const valid: readonly (readonly [input: string, trustDomain: string, path: string])[] = [
    ['spiffe://trustdomain', 'trustdomain', ''],
    ['spiffe://trustdomain/path', 'trustdomain', '/path'],
    ['spiffe://trustdomain/path1/path2', 'trustdomain', '/path1/path2'],
    ['spiffe://example.org/ns/prod/sa/web', 'example.org', '/ns/prod/sa/web'],
    ['spiffe://a-b_c.d9/A-Z_a.z-09', 'a-b_c.d9', '/A-Z_a.z-09'],
    ['spiffe://1.2.3.4/x', '1.2.3.4', '/x'],
    // Dots are only special as a whole segment: these are ordinary names.
    ['spiffe://td/.path', 'td', '/.path'],
    ['spiffe://td/..path', 'td', '/..path'],
    ['spiffe://td/...', 'td', '/...'],
    ['spiffe://td/path.', 'td', '/path.'],
    ['spiffe://td/a/.b/..c/...', 'td', '/a/.b/..c/...'],
    // The standard takes the host rule of RFC 3986 (reg-name); go-spiffe accepts these too.
    ['spiffe://-/x', '-', '/x'],
    ['spiffe://../x', '..', '/x'],
    ['spiffe://td/UPPER/Case', 'td', '/UPPER/Case'],
  ];
  for (const [input, trustDomain, path] of valid) {
    it(`accepts ${input}`, () => {
      const id = SpiffeId.parse(input);
      assert.equal(id.trustDomain.name, trustDomain);
      assert.equal(id.path, path);
      assert.equal(id.toString(), input);
    });
  }

  const invalid: readonly (readonly [input: string, rule: SpiffeIdRule])[] = [
    ['', 'empty'],
    // scheme: exactly "spiffe://", in lower case.
    ['s', 'scheme'],
    ['spiffe', 'scheme'],
    ['spiffe:', 'scheme'],
    ['spiffe:/', 'scheme'],
    ['spiffe:/td/path', 'scheme'],
    ['spiffe//td/path', 'scheme'],
    ['Spiffe://td', 'scheme'],
    ['SPIFFE://td/path', 'scheme'],
    ['sPiFfE://td/path', 'scheme'],
    ['https://td/path', 'scheme'],
    ['urn:spiffe:td', 'scheme'],
    [' spiffe://td/path', 'scheme'],
    ['spiffe:\\\\td\\path', 'scheme'],
    // trust domain missing
    ['spiffe://', 'missing-trust-domain'],
    ['spiffe:///', 'missing-trust-domain'],
    ['spiffe:///path', 'missing-trust-domain'],
    ['spiffe:////', 'missing-trust-domain'],
    // trust domain characters: no upper case, port, userinfo, IP literal, percent-encoding,
    // query, fragment, whitespace or non-ASCII.
    ['spiffe://Trustdomain', 'trust-domain-char'],
    ['spiffe://EXAMPLE.ORG/path', 'trust-domain-char'],
    ['spiffe://td:8443/path', 'trust-domain-char'],
    ['spiffe://td:/path', 'trust-domain-char'],
    ['spiffe://td:', 'trust-domain-char'],
    ['spiffe://user@td/path', 'trust-domain-char'],
    ['spiffe://user:pass@td/path', 'trust-domain-char'],
    ['spiffe://[::1]/path', 'trust-domain-char'],
    ['spiffe://%74d/path', 'trust-domain-char'],
    ['spiffe://%F0%9F%A4%AF/path', 'trust-domain-char'],
    ['spiffe://td?query', 'trust-domain-char'],
    ['spiffe://td#fragment', 'trust-domain-char'],
    ['spiffe://t d/path', 'trust-domain-char'],
    ['spiffe://td\\path', 'trust-domain-char'],
    ['spiffe://tdé/path', 'trust-domain-char'],
    // path
    ['spiffe://td/', 'path-trailing-slash'],
    ['spiffe://td/path/', 'path-trailing-slash'],
    ['spiffe://td/a/b/', 'path-trailing-slash'],
    ['spiffe://td//', 'path-empty-segment'],
    ['spiffe://td//path', 'path-empty-segment'],
    ['spiffe://td/a//b', 'path-empty-segment'],
    ['spiffe://td/.', 'path-dot-segment'],
    ['spiffe://td/./path', 'path-dot-segment'],
    ['spiffe://td/path/./other', 'path-dot-segment'],
    ['spiffe://td/path/.', 'path-dot-segment'],
    ['spiffe://td/..', 'path-dot-segment'],
    ['spiffe://td/../path', 'path-dot-segment'],
    ['spiffe://td/path/../other', 'path-dot-segment'],
    ['spiffe://td/path/..', 'path-dot-segment'],
    ['spiffe://td/path?query', 'path-char'],
    ['spiffe://td/path?', 'path-char'],
    ['spiffe://td/path#fragment', 'path-char'],
    ['spiffe://td/path#', 'path-char'],
    ['spiffe://td/%62', 'path-char'],
    ['spiffe://td/a%2Fb', 'path-char'],
    ['spiffe://td/%2e%2e/x', 'path-char'],
    ['spiffe://td/%F0%9F%A4%AF', 'path-char'],
    ['spiffe://td/a b', 'path-char'],
    ['spiffe://td/a:b', 'path-char'],
    ['spiffe://td/a@b', 'path-char'],
    ['spiffe://td/a~b', 'path-char'],
    ['spiffe://td/a$b', 'path-char'],
    ['spiffe://td/a\\b', 'path-char'],
    ['spiffe://td/é', 'path-char'],
    ['spiffe://td/x\u0000', 'path-char'],
    ['spiffe://td/x\n', 'path-char'],
  ];
  for (const [input, rule] of invalid) {
    it(`rejects ${JSON.stringify(input)} (${rule})`, () => {
      assertInvalidId(() => SpiffeId.parse(input), rule, input);
    });
  }

  it('reports the first broken rule in scan order, like go-spiffe', () => {
    const cases: readonly (readonly [string, SpiffeIdRule])[] = [
      ['spiffe://A.org/a//b/', 'trust-domain-char'],
      ['spiffe://td/a//b/', 'path-empty-segment'],
      ['spiffe://td/./x$', 'path-dot-segment'],
      ['spiffe://td/x$/./', 'path-char'],
      ['spiffe://td/x/..$', 'path-char'],
      ['spiffe://td:80/', 'trust-domain-char'],
      // the length bound comes first: an oversized input is not scanned at all
      [`SPIFFE://${'A'.repeat(3000)}`, 'too-long'],
    ];
    for (const [input, rule] of cases) assertInvalidId(() => SpiffeId.parse(input), rule, input);
  });

  it('names the offending character and its index in the whole ID', () => {
    assert.throws(
      () => SpiffeId.parse('spiffe://td/ok/b$d'),
      (err: Error) =>
        err.message.includes("'$' (U+0024) at index 16") &&
        err.message.startsWith('invalid SPIFFE ID "spiffe://td/ok/b$d"'),
    );
    assert.throws(
      () => SpiffeId.parse('spiffe://td:8443/x'),
      (err: Error) =>
        err.message.includes("':' (U+003A) at index 11") && err.message.includes('port'),
    );
    assert.throws(
      () => SpiffeId.parse('spiffe://Td'),
      (err: Error) => err.message.includes('upper case'),
    );
    assert.throws(
      () => SpiffeId.parse('SPIFFE://td'),
      (err: Error) => err.message.includes('lower case'),
    );
  });

  it('escapes control characters in messages, so input cannot forge log lines', () => {
    const input = 'spiffe://td/x\nlevel=info msg="peer authorized"';
    assert.throws(
      () => SpiffeId.parse(input),
      (err: Error) => !err.message.includes('\n') && err.message.includes('\\n'),
    );
  });

  it('keeps the ID exactly as given; nothing is normalised', () => {
    const id = SpiffeId.parse('spiffe://td/Path/MiXeD');
    assert.equal(id.toString(), 'spiffe://td/Path/MiXeD');
    assert.equal(id.equals(SpiffeId.parse('spiffe://td/path/mixed')), false);
  });

  it('rejects values that are not strings with InvalidArgumentError', () => {
    for (const value of [undefined, null, 42, {}, ['spiffe://td'], new String('spiffe://td')]) {
      assertInvalidArgument(() => SpiffeId.parse(value as string), 'as a string');
    }
    // positive control: the same call with a string works
    assert.equal(SpiffeId.parse('spiffe://td').toString(), 'spiffe://td');
  });
});

describe('length bounds', () => {
  const base = `spiffe://${td.name}`;
  const idOfLength = (n: number): string => base + pathOfLength(n - base.length);
  const longTd = (n: number): string => 'a'.repeat(n);

  it('exports the bounds: 2048 bytes per ID, 255 per trust domain', () => {
    assert.equal(MAX_SPIFFE_ID_LENGTH, 2048);
    assert.equal(MAX_TRUST_DOMAIN_LENGTH, 255);
  });

  it('parse accepts a 2048-byte ID and rejects a 2049-byte one', () => {
    const ok = idOfLength(2048);
    assert.equal(ok.length, 2048);
    assert.equal(SpiffeId.parse(ok).toString(), ok);
    const tooLong = idOfLength(2049);
    assertInvalidId(() => SpiffeId.parse(tooLong), 'too-long', tooLong);
  });

  it('parse accepts a 255-byte trust domain and rejects a 256-byte one', () => {
    const ok = `spiffe://${longTd(255)}/x`;
    assert.equal(SpiffeId.parse(ok).trustDomain.name.length, 255);
    const bad = `spiffe://${longTd(256)}/x`;
    assertInvalidId(() => SpiffeId.parse(bad), 'trust-domain-too-long', bad);
    const badRoot = `spiffe://${longTd(256)}`;
    assertInvalidId(() => SpiffeId.parse(badRoot), 'trust-domain-too-long', badRoot);
  });

  it('a 255-byte trust domain plus a path still fits 2048 bytes', () => {
    const big = TrustDomain.parse(longTd(255));
    const ok = `spiffe://${big.name}${pathOfLength(2048 - 9 - 255)}`;
    assert.equal(SpiffeId.parse(ok).toString().length, 2048);
    const bad = `spiffe://${big.name}${pathOfLength(2049 - 9 - 255)}`;
    assertInvalidId(() => SpiffeId.parse(bad), 'too-long', bad);
  });

  it('fromPath applies the ID bound', () => {
    const okPath = pathOfLength(2048 - base.length);
    assert.equal(SpiffeId.fromPath(td, okPath).toString().length, 2048);
    const badPath = pathOfLength(2049 - base.length);
    assertInvalidId(() => SpiffeId.fromPath(td, badPath), 'too-long', base + badPath);
  });

  it('fromSegments applies the ID bound', () => {
    const seg = (n: number): string => 's'.repeat(n - 1);
    assert.equal(SpiffeId.fromSegments(td, seg(2048 - base.length)).toString().length, 2048);
    const bad = seg(2049 - base.length);
    assertInvalidId(() => SpiffeId.fromSegments(td, bad), 'too-long', `${base}/${bad}`);
  });

  it('appendPath and appendSegments apply the ID bound to the combined ID', () => {
    const start = SpiffeId.fromPath(td, '/start');
    const room = 2048 - start.toString().length;
    assert.equal(start.appendPath(pathOfLength(room)).toString().length, 2048);
    const badPath = pathOfLength(room + 1);
    assertInvalidId(() => start.appendPath(badPath), 'too-long', start.toString() + badPath);

    assert.equal(start.appendSegments('x'.repeat(room - 1)).toString().length, 2048);
    const badSeg = 'x'.repeat(room);
    assertInvalidId(
      () => start.appendSegments(badSeg),
      'too-long',
      `${start.toString()}/${badSeg}`,
    );
  });

  it('replacePath and replaceSegments apply the ID bound', () => {
    const start = SpiffeId.fromPath(td, '/start');
    assert.equal(start.replacePath(pathOfLength(2048 - base.length)).toString().length, 2048);
    const badPath = pathOfLength(2049 - base.length);
    assertInvalidId(() => start.replacePath(badPath), 'too-long', base + badPath);

    assert.equal(start.replaceSegments('x'.repeat(2047 - base.length)).toString().length, 2048);
    const badSeg = 'x'.repeat(2048 - base.length);
    assertInvalidId(() => start.replaceSegments(badSeg), 'too-long', `${base}/${badSeg}`);
  });

  it('keeps and quotes only the first 256 characters of oversized input', () => {
    const input = idOfLength(5000);
    assert.throws(
      () => SpiffeId.parse(input),
      (err: Error & { input: string }) =>
        err.input === keptInput(input) && err.message.length < 600 && err.message.includes('5000'),
    );
  });
});

describe('SpiffeId.fromUrl', () => {
  it('accepts a URL object and a URL string', () => {
    const fromObject = SpiffeId.fromUrl(new URL('spiffe://td/path'));
    assert.equal(fromObject.toString(), 'spiffe://td/path');
    const fromString = SpiffeId.fromUrl('spiffe://td/path');
    assert.ok(fromString.equals(fromObject));
    assert.equal(SpiffeId.fromUrl(new URL('spiffe://td')).path, '');
  });

  it('parses a string exactly like parse, so an upper-case scheme is rejected', () => {
    assertInvalidId(() => SpiffeId.fromUrl('SPIFFE://td/path'), 'scheme', 'SPIFFE://td/path');
    assertInvalidId(() => SpiffeId.fromUrl(''), 'empty', '');
    assertInvalidId(() => SpiffeId.fromUrl('spiffe://td/$'), 'path-char', 'spiffe://td/$');
  });

  it('rejects URL objects that break a rule', () => {
    const cases: readonly (readonly [string, SpiffeIdRule, string])[] = [
      ['https://td/path', 'scheme', 'https://td/path'],
      ['spiffe://td:8443/path', 'trust-domain-char', 'spiffe://td:8443/path'],
      ['spiffe://user@td/path', 'trust-domain-char', 'spiffe://user@td/path'],
      // the WHATWG parser does not lower-case the host of a non-special scheme
      ['spiffe://TD/path', 'trust-domain-char', 'spiffe://TD/path'],
      ['spiffe://td/path?q=1', 'path-char', 'spiffe://td/path?q=1'],
      ['spiffe://td/path#frag', 'path-char', 'spiffe://td/path#frag'],
      ['spiffe://td/', 'path-trailing-slash', 'spiffe://td/'],
      ['spiffe://td/a//b', 'path-empty-segment', 'spiffe://td/a//b'],
      // non-ASCII is percent-encoded by URL, and percent-encoding is rejected
      ['spiffe://td/é', 'path-char', 'spiffe://td/%C3%A9'],
      ['spiffe://td/a$b', 'path-char', 'spiffe://td/a$b'],
    ];
    for (const [url, rule, href] of cases) {
      const u = new URL(url);
      assert.equal(u.href, href);
      assertInvalidId(() => SpiffeId.fromUrl(u), rule, href);
    }
  });

  it('uses the href of a URL object, which the URL parser has already normalised', () => {
    // Documented: the original spelling is gone once a URL object exists. Callers with
    // untrusted input must call SpiffeId.parse on the original string, which rejects both.
    assert.equal(SpiffeId.fromUrl(new URL('SPIFFE://td/path')).toString(), 'spiffe://td/path');
    assertInvalidId(() => SpiffeId.parse('SPIFFE://td/path'), 'scheme', 'SPIFFE://td/path');
    assert.equal(SpiffeId.fromUrl(new URL('spiffe://td/a/../b')).toString(), 'spiffe://td/b');
    assertInvalidId(
      () => SpiffeId.parse('spiffe://td/a/../b'),
      'path-dot-segment',
      'spiffe://td/a/../b',
    );
  });

  it('rejects anything that is neither a URL nor a string', () => {
    assertInvalidArgument(
      () => SpiffeId.fromUrl({ href: 'spiffe://td' } as unknown as URL),
      'string',
    );
    assertInvalidArgument(() => SpiffeId.fromUrl(undefined as unknown as URL), 'string');
  });
});

describe('SpiffeId.fromPath and fromSegments', () => {
  it('builds IDs from a trust domain and a path', () => {
    assert.equal(SpiffeId.fromPath(td, '').toString(), 'spiffe://example.org');
    assert.equal(SpiffeId.fromPath(td, '/foo').toString(), 'spiffe://example.org/foo');
    assert.equal(SpiffeId.fromPath(td, '/a/b/c').path, '/a/b/c');
    assert.ok(SpiffeId.fromPath(td, '/a').trustDomain.equals(td));
  });

  it('fromPath rejects invalid paths with the rule', () => {
    const cases: readonly (readonly [string, SpiffeIdRule])[] = [
      ['/', 'path-trailing-slash'],
      ['foo', 'path-leading-slash'],
      ['foo/bar', 'path-leading-slash'],
      ['//foo', 'path-empty-segment'],
      ['/foo/', 'path-trailing-slash'],
      ['/./foo', 'path-dot-segment'],
      ['/foo/..', 'path-dot-segment'],
      ['/f$o', 'path-char'],
      ['/f?o', 'path-char'],
    ];
    for (const [path, rule] of cases)
      assertInvalidId(() => SpiffeId.fromPath(td, path), rule, path);
  });

  it('builds IDs from segments', () => {
    assert.equal(SpiffeId.fromSegments(td).toString(), 'spiffe://example.org');
    assert.equal(SpiffeId.fromSegments(td, 'foo').toString(), 'spiffe://example.org/foo');
    assert.equal(SpiffeId.fromSegments(td, 'a', 'B', '.c', '...').path, '/a/B/.c/...');
  });

  it('fromSegments rejects invalid segments with the rule', () => {
    const cases: readonly (readonly [string, SpiffeIdRule])[] = [
      ['', 'path-empty-segment'],
      ['/', 'path-char'],
      ['/foo', 'path-char'],
      ['a/b', 'path-char'],
      ['.', 'path-dot-segment'],
      ['..', 'path-dot-segment'],
      ['$', 'path-char'],
    ];
    for (const [segment, rule] of cases) {
      assertInvalidId(() => SpiffeId.fromSegments(td, 'ok', segment), rule, segment);
    }
  });

  it('requires a TrustDomain, not a string (plain JavaScript callers)', () => {
    const fromPath = (t: unknown, p: string): SpiffeId => SpiffeId.fromPath(t as TrustDomain, p);
    const fromSegments = (t: unknown, ...s: string[]): SpiffeId =>
      SpiffeId.fromSegments(t as TrustDomain, ...s);
    assertInvalidArgument(() => fromPath('example.org', '/x'), 'TrustDomain');
    assertInvalidArgument(() => fromSegments('example.org', 'x'), 'TrustDomain');
    assertInvalidArgument(() => fromPath(undefined, '/x'), 'TrustDomain');
    assertInvalidArgument(() => fromPath({ name: 'example.org' }, '/x'), 'TrustDomain');
    assertInvalidArgument(() => SpiffeId.fromPath(td, 7 as unknown as string), 'as a string');
    assertInvalidArgument(
      () => SpiffeId.fromSegments(td, 'a', 7 as unknown as string),
      'as a string',
    );
    // positive control
    assert.equal(fromPath(td, '/x').toString(), 'spiffe://example.org/x');
  });
});

describe('append and replace', () => {
  const id = SpiffeId.parse('spiffe://example.org/ns');
  const root = td.id();

  it('appendPath appends', () => {
    assert.equal(id.appendPath('/prod').toString(), 'spiffe://example.org/ns/prod');
    assert.equal(id.appendPath('/a/b').toString(), 'spiffe://example.org/ns/a/b');
    assert.equal(id.appendPath('').toString(), 'spiffe://example.org/ns');
    assert.equal(root.appendPath('/x').toString(), 'spiffe://example.org/x');
  });

  it('appendPath rejects invalid paths', () => {
    const cases: readonly (readonly [string, SpiffeIdRule])[] = [
      ['prod', 'path-leading-slash'],
      ['/', 'path-trailing-slash'],
      ['/prod/', 'path-trailing-slash'],
      ['//prod', 'path-empty-segment'],
      ['/..', 'path-dot-segment'],
      ['/.', 'path-dot-segment'],
      ['/p@d', 'path-char'],
    ];
    for (const [path, rule] of cases) assertInvalidId(() => id.appendPath(path), rule, path);
  });

  it('appendSegments appends', () => {
    assert.equal(id.appendSegments('prod', 'web').toString(), 'spiffe://example.org/ns/prod/web');
    assert.equal(id.appendSegments().toString(), 'spiffe://example.org/ns');
    assert.equal(root.appendSegments('x').toString(), 'spiffe://example.org/x');
  });

  it('appendSegments rejects invalid segments', () => {
    const cases: readonly (readonly [string, SpiffeIdRule])[] = [
      ['', 'path-empty-segment'],
      ['a/b', 'path-char'],
      ['/a', 'path-char'],
      ['..', 'path-dot-segment'],
      ['.', 'path-dot-segment'],
      ['a b', 'path-char'],
    ];
    for (const [segment, rule] of cases) {
      assertInvalidId(() => id.appendSegments('ok', segment), rule, segment);
    }
  });

  it('replacePath and replaceSegments keep the trust domain and swap the path', () => {
    assert.equal(id.replacePath('/new').toString(), 'spiffe://example.org/new');
    assert.equal(id.replacePath('').toString(), 'spiffe://example.org');
    assert.equal(id.replaceSegments('a', 'b').toString(), 'spiffe://example.org/a/b');
    assert.equal(id.replaceSegments().toString(), 'spiffe://example.org');
    assert.ok(id.replacePath('/new').trustDomain.equals(id.trustDomain));
  });

  it('replacePath and replaceSegments reject invalid input', () => {
    assertInvalidId(() => id.replacePath('new'), 'path-leading-slash', 'new');
    assertInvalidId(() => id.replacePath('/new/'), 'path-trailing-slash', '/new/');
    assertInvalidId(() => id.replacePath('/../x'), 'path-dot-segment', '/../x');
    assertInvalidId(() => id.replaceSegments('a', '..'), 'path-dot-segment', '..');
    assertInvalidId(() => id.replaceSegments(''), 'path-empty-segment', '');
    assertInvalidId(() => id.replaceSegments('x/y'), 'path-char', 'x/y');
  });

  it('never changes the original ID', () => {
    id.appendPath('/x');
    id.appendSegments('y');
    id.replacePath('/z');
    id.replaceSegments('w');
    assert.equal(id.toString(), 'spiffe://example.org/ns');
    assert.equal(id.path, '/ns');
  });
});

describe('SpiffeId values', () => {
  const id = SpiffeId.parse('spiffe://example.org/ns/prod');

  it('exposes trustDomain, path and memberOf', () => {
    assert.ok(id.trustDomain instanceof TrustDomain);
    assert.equal(id.trustDomain.name, 'example.org');
    assert.equal(id.path, '/ns/prod');
    assert.equal(id.memberOf(td), true);
    assert.equal(id.memberOf(TrustDomain.parse('example.com')), false);
    assert.equal(id.memberOf(TrustDomain.parse('example.org.evil')), false);
    assert.equal(id.memberOf(TrustDomain.parse('org')), false);
  });

  it('equals compares the whole ID byte for byte', () => {
    assert.equal(id.equals(SpiffeId.parse('spiffe://example.org/ns/prod')), true);
    assert.equal(id.equals(id), true);
    assert.equal(id.equals(SpiffeId.parse('spiffe://example.org/ns/Prod')), false);
    assert.equal(id.equals(SpiffeId.parse('spiffe://example.org/ns')), false);
    assert.equal(id.equals(SpiffeId.parse('spiffe://example.org/ns/prod/x')), false);
    assert.equal(id.equals(SpiffeId.parse('spiffe://example.com/ns/prod')), false);
    assert.equal(td.id().equals(SpiffeId.parse('spiffe://example.org')), true);
  });

  it('equals is false, not a TypeError, for things that are not SpiffeIds', () => {
    const equals = (other: unknown): boolean => id.equals(other as SpiffeId);
    assert.equal(equals('spiffe://example.org/ns/prod'), false);
    assert.equal(equals(undefined), false);
    assert.equal(equals(null), false);
    // an object that only claims to be a SpiffeId
    const fake: unknown = Object.create(SpiffeId.prototype);
    assert.equal(equals(fake), false);
  });

  it('toString, template literals and toJSON give the ID string', () => {
    assert.equal(id.toString(), 'spiffe://example.org/ns/prod');
    assert.equal(String(id), 'spiffe://example.org/ns/prod');
    assert.equal(id.toJSON(), 'spiffe://example.org/ns/prod');
    assert.equal(JSON.stringify(id), '"spiffe://example.org/ns/prod"');
    assert.equal(
      JSON.stringify({ peer: id, td: id.trustDomain }),
      '{"peer":"spiffe://example.org/ns/prod","td":"example.org"}',
    );
  });

  it('round-trips through JSON', () => {
    const back = SpiffeId.parse(JSON.parse(JSON.stringify(id)) as string);
    assert.ok(back.equals(id));
  });

  it('toUrl gives an equivalent WHATWG URL', () => {
    const url = id.toUrl();
    assert.equal(url.protocol, 'spiffe:');
    assert.equal(url.host, 'example.org');
    assert.equal(url.pathname, '/ns/prod');
    assert.equal(url.href, id.toString());
    assert.ok(SpiffeId.fromUrl(url).equals(id));
    assert.equal(td.id().toUrl().href, 'spiffe://example.org');
    assert.notEqual(id.toUrl(), url); // a fresh, mutable URL each time
  });

  it('is frozen: fields cannot be changed, added or deleted', () => {
    assert.ok(Object.isFrozen(id));
    assert.ok(Object.isFrozen(id.trustDomain));
    const target = id as unknown as Record<string, unknown>;
    assert.throws(() => {
      target['path'] = '/admin';
    }, TypeError);
    assert.throws(() => {
      target['trustDomain'] = TrustDomain.parse('evil.org');
    }, TypeError);
    assert.throws(() => {
      target['extra'] = 1;
    }, TypeError);
    assert.throws(() => {
      delete target['path'];
    }, TypeError);
    assert.equal(id.toString(), 'spiffe://example.org/ns/prod');
    assert.equal(id.path, '/ns/prod');
  });

  it('cannot be constructed directly, even from plain JavaScript', () => {
    const Ctor = SpiffeId as unknown as new (...args: unknown[]) => unknown;
    assertInvalidArgument(() => new Ctor(td, '/../admin'), 'SpiffeId.parse');
    assertInvalidArgument(() => new Ctor(td, '/x', Symbol('SpiffeId')), 'SpiffeId.parse');
  });
});
