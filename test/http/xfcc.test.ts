// parseXfcc / formatXfcc: Envoy's documented examples, every grammar rule with a positive control,
// the bounds, and property tests (arbitrary input only ever throws the SDK's errors; generated
// elements round-trip through formatXfcc and parseXfcc).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { InvalidArgumentError, SpiffeError } from '../../src/errors.js';
import {
  formatXfcc,
  MAX_XFCC_ELEMENTS,
  MAX_XFCC_LENGTH,
  MAX_XFCC_PAIRS,
  parseXfcc,
  type XfccElement,
  XfccError,
  type XfccFailure,
} from '../../src/http/index.js';

function el(fields: Partial<XfccElement>): XfccElement {
  return { by: [], uri: [], dns: [], ...fields };
}

function rejects(value: string, reason: XfccFailure, message?: RegExp): void {
  assert.throws(
    () => parseXfcc(value),
    (err: unknown) => {
      assert.ok(err instanceof XfccError, `expected XfccError, got ${String(err)}`);
      assert.equal(err.code, 'ERR_SPIFFE_XFCC');
      assert.equal(err.reason, reason, err.message);
      if (message !== undefined) assert.match(err.message, message);
      return true;
    },
    `expected ${JSON.stringify(value.slice(0, 80))} to be rejected`,
  );
}

const HASH = '468ed33be74eee6556d90c0149c1309e9ba61d6425303443c0748a02dd8de688';
const SUBJECT = '/C=US/ST=CA/L=San Francisco/OU=Lyft/CN=Test Client';

describe('parseXfcc: Envoy documentation examples', () => {
  it('one element with By, Hash, Subject and URI', () => {
    assert.deepEqual(
      parseXfcc(
        `By=http://frontend.lyft.com;Hash=${HASH};Subject="${SUBJECT}";URI=http://testclient.lyft.com`,
      ),
      [
        el({
          by: ['http://frontend.lyft.com'],
          hash: HASH,
          subject: SUBJECT,
          uri: ['http://testclient.lyft.com'],
        }),
      ],
    );
  });

  it('two elements, in order', () => {
    const elements = parseXfcc(
      `By=http://frontend.lyft.com;Hash=${HASH};URI=http://testclient.lyft.com,` +
        `By=http://backend.lyft.com;Hash=9ba6;URI=http://frontend.lyft.com`,
    );
    assert.deepEqual(elements, [
      el({ by: ['http://frontend.lyft.com'], hash: HASH, uri: ['http://testclient.lyft.com'] }),
      el({ by: ['http://backend.lyft.com'], hash: '9ba6', uri: ['http://frontend.lyft.com'] }),
    ]);
  });

  it('repeated DNS pairs, and repeated By and URI (Envoy writes one pair per SAN)', () => {
    assert.deepEqual(
      parseXfcc(
        'By=spiffe://a.org/p;By=spiffe://a.org/q;URI=spiffe://a.org/c;URI=https://x;DNS=lyft.com;DNS=www.lyft.com',
      ),
      [
        el({
          by: ['spiffe://a.org/p', 'spiffe://a.org/q'],
          uri: ['spiffe://a.org/c', 'https://x'],
          dns: ['lyft.com', 'www.lyft.com'],
        }),
      ],
    );
  });

  it('Cert and Chain as Envoy writes them (quoted, URL-encoded PEM)', () => {
    const pem = '-----BEGIN%20CERTIFICATE-----%0AMIIB%2Fw%3D%3D%0A-----END%20CERTIFICATE-----%0A';
    assert.deepEqual(parseXfcc(`Hash=ab;Cert="${pem}";Chain="${pem}${pem}"`), [
      el({ hash: 'ab', cert: pem, chain: pem + pem }),
    ]);
  });
});

describe('parseXfcc: keys', () => {
  it('are case-insensitive and come back under their canonical names', () => {
    assert.deepEqual(parseXfcc('by=a;HASH=b;cErT=c;chain=d;SUBJECT="e";uri=f;Dns=g'), [
      el({ by: ['a'], hash: 'b', cert: 'c', chain: 'd', subject: 'e', uri: ['f'], dns: ['g'] }),
    ]);
  });

  it('refuses an unknown key, including the legacy SAN', () => {
    assert.deepEqual(parseXfcc('URI=a'), [el({ uri: ['a'] })]);
    rejects('SAN=a', 'malformed', /unknown key "SAN" at index 0/);
    rejects('URI=a;Foo=b', 'malformed', /unknown key "Foo" at index 6/);
  });

  it('refuses a key with characters other than letters', () => {
    rejects('URI2=a', 'malformed', /expected '=' after a key, found '2'/);
    rejects('x-URI=a', 'malformed');
  });

  it('refuses an empty key and a key without "="', () => {
    rejects('=a', 'malformed', /expected a key, found '=' \(U\+003D\) at index 0/);
    rejects('URI', 'malformed', /expected '=' after a key, found the end of the header/);
    rejects('URI;DNS=a', 'malformed', /expected '='/);
  });

  it('refuses a second Hash, Cert, Chain or Subject in one element', () => {
    assert.deepEqual(parseXfcc('Hash=a,Hash=b'), [el({ hash: 'a' }), el({ hash: 'b' })]);
    rejects('Hash=a;Hash=b', 'malformed', /element 1 has more than one Hash/);
    rejects('Cert=a;cert=b', 'malformed', /more than one Cert/);
    rejects('Chain=a;Chain=a', 'malformed', /more than one Chain/);
    rejects('URI=x,Subject="";Subject=""', 'malformed', /element 2 has more than one Subject/);
  });
});

describe('parseXfcc: values', () => {
  it('may be empty (Envoy writes "URI=" for a certificate without URI SAN)', () => {
    assert.deepEqual(parseXfcc('By=a;URI=;Subject=""'), [
      el({ by: ['a'], uri: [''], subject: '' }),
    ]);
  });

  it('quoted values may contain , ; = and spaces', () => {
    assert.deepEqual(parseXfcc('Subject="a,b;c=d e\tf";URI=x'), [
      el({ subject: 'a,b;c=d e\tf', uri: ['x'] }),
    ]);
  });

  it('a backslash in quotes escapes the next character', () => {
    assert.deepEqual(parseXfcc('Subject="say \\"hi\\"";URI=x'), [
      el({ subject: 'say "hi"', uri: ['x'] }),
    ]);
    // RFC 2253 subjects as Envoy writes them: "\\" must not swallow the closing quote.
    assert.deepEqual(parseXfcc('Subject="CN=a\\\\";URI=x'), [
      el({ subject: 'CN=a\\', uri: ['x'] }),
    ]);
    assert.deepEqual(parseXfcc('Subject="O=Acme\\, Inc.";URI=x'), [
      el({ subject: 'O=Acme, Inc.', uri: ['x'] }),
    ]);
  });

  it('obs-text (U+0080..U+00FF) is allowed in quotes only', () => {
    assert.deepEqual(parseXfcc('Subject="CN=\u00e9"'), [el({ subject: 'CN=\u00e9' })]);
    rejects('URI=\u00e9', 'malformed', /U\+00E9 at index 4/);
  });

  it('tolerates "=" in an unquoted value (Envoy does not quote By and URI)', () => {
    assert.deepEqual(parseXfcc('URI=https://x/?a=b;DNS=c'), [
      el({ uri: ['https://x/?a=b'], dns: ['c'] }),
    ]);
  });

  it('refuses a quote that is not closed', () => {
    rejects('Subject="abc', 'malformed', /quoted value opened at index 8 is not closed/);
    rejects('Subject="abc\\"', 'malformed', /not closed/);
  });

  it('refuses anything but ; , or the end after a closing quote', () => {
    assert.deepEqual(parseXfcc('Subject="a";URI=b'), [el({ subject: 'a', uri: ['b'] })]);
    rejects('Subject="a"b', 'malformed', /after the Subject value, found 'b'/);
    rejects('Subject="a""b"', 'malformed');
  });

  it('refuses a quote inside an unquoted value', () => {
    rejects('URI=a"b"', 'malformed', /after the URI value, found '"'/);
  });

  it('refuses a backslash at the end of a quoted value or before a control character', () => {
    rejects('Subject="a\\', 'malformed', /backslash at index 10 escapes the end of the header/);
    rejects('Subject="a\\\n"', 'malformed', /backslash at index 10 escapes U\+000A/);
  });

  it('refuses control characters and DEL, quoted or not', () => {
    for (const c of ['\u0000', '\r', '\n', '\u007f']) {
      rejects(`URI=a${c}`, 'malformed');
      rejects(`Subject="a${c}"`, 'malformed', /is not allowed in a quoted value/);
    }
  });

  it('refuses characters above U+00FF, quoted or not', () => {
    rejects('URI=\u20ac', 'malformed');
    rejects('Subject="\u20ac"', 'malformed', /U\+20AC at index 9 is not allowed/);
  });
});

describe('parseXfcc: structure', () => {
  it('refuses an empty value', () => {
    rejects('', 'malformed', /the value is empty/);
  });

  it('refuses empty elements', () => {
    assert.equal(parseXfcc('URI=a,URI=b').length, 2);
    rejects(',URI=a', 'malformed', /expected a key, found ','/);
    rejects('URI=a,', 'malformed', /found the end of the header/);
    rejects('URI=a,,URI=b', 'malformed', /found ',' \(U\+002C\) at index 6/);
  });

  it('refuses empty pairs', () => {
    assert.equal(parseXfcc('URI=a;DNS=b')[0]?.dns[0], 'b');
    rejects('URI=a;;DNS=b', 'malformed', /found ';'/);
    rejects('URI=a;', 'malformed', /found the end of the header/);
    rejects(';URI=a', 'malformed');
  });

  it('refuses whitespace outside quotes', () => {
    for (const value of ['URI=a; DNS=b', 'URI=a, URI=b', 'URI =a', 'URI= a', 'URI=a b', ' URI=a']) {
      rejects(value, 'malformed');
    }
  });

  it('returns frozen elements and arrays', () => {
    const elements = parseXfcc('By=a;URI=b;DNS=c,Hash=d');
    assert.ok(Object.isFrozen(elements));
    for (const element of elements) {
      assert.ok(Object.isFrozen(element));
      assert.ok(Object.isFrozen(element.by));
      assert.ok(Object.isFrozen(element.uri));
      assert.ok(Object.isFrozen(element.dns));
    }
    assert.equal('hash' in (elements[0] ?? {}), false, 'absent keys are absent properties');
  });

  it('throws InvalidArgumentError for a value that is not a string', () => {
    assert.throws(() => parseXfcc(['URI=a'] as unknown as string), InvalidArgumentError);
    assert.throws(() => parseXfcc(undefined as unknown as string), InvalidArgumentError);
  });
});

describe('parseXfcc: bounds', () => {
  it(`reads at most MAX_XFCC_LENGTH (${MAX_XFCC_LENGTH}) characters`, () => {
    const longest = `Subject="${'a'.repeat(MAX_XFCC_LENGTH - 10)}"`;
    assert.equal(longest.length, MAX_XFCC_LENGTH);
    assert.equal(parseXfcc(longest)[0]?.subject?.length, MAX_XFCC_LENGTH - 10);
    rejects(`${longest}a`, 'too-large', /65537 characters long/);
  });

  it(`accepts at most MAX_XFCC_ELEMENTS (${MAX_XFCC_ELEMENTS}) elements`, () => {
    const elements = Array<string>(MAX_XFCC_ELEMENTS).fill('URI=a');
    assert.equal(parseXfcc(elements.join(',')).length, MAX_XFCC_ELEMENTS);
    rejects([...elements, 'URI=a'].join(','), 'too-large', /more than 32 elements/);
  });

  it(`accepts at most MAX_XFCC_PAIRS (${MAX_XFCC_PAIRS}) pairs per element`, () => {
    const pairs = Array<string>(MAX_XFCC_PAIRS).fill('DNS=a');
    assert.equal(parseXfcc(`${pairs.join(';')},${pairs.join(';')}`)[1]?.dns.length, MAX_XFCC_PAIRS);
    rejects([...pairs, 'DNS=a'].join(';'), 'too-large', /element 1 has more than 128/);
  });
});

describe('formatXfcc', () => {
  it('writes keys in Envoy order and quotes only where needed', () => {
    assert.equal(
      formatXfcc([
        el({ dns: ['d'], uri: ['spiffe://a.org/c'], by: ['spiffe://a.org/p'], hash: 'h' }),
        el({ subject: 'CN=a, O="b"\\', cert: 'x=y', chain: 'c;d' }),
      ]),
      'By=spiffe://a.org/p;Hash=h;URI=spiffe://a.org/c;DNS=d,' +
        'Cert="x=y";Chain="c;d";Subject="CN=a, O=\\"b\\"\\\\"',
    );
    assert.equal(formatXfcc([el({ uri: [''] })]), 'URI=');
  });

  it('refuses input that has no XFCC form', () => {
    assert.equal(formatXfcc([el({ uri: ['a'] })]), 'URI=a');
    assert.throws(() => formatXfcc([]), /non-empty array/);
    assert.throws(() => formatXfcc([el({})]), /at least one value/);
    assert.throws(() => formatXfcc([el({ subject: 'a\nb' })]), /cannot appear in a header/);
    assert.throws(() => formatXfcc([el({ uri: ['\u20ac'] })]), InvalidArgumentError);
    assert.throws(
      () => formatXfcc([{ ...el({}), uri: 'a' } as unknown as XfccElement]),
      /uri must be an array/,
    );
    assert.throws(
      () => formatXfcc([el({ hash: 1 as unknown as string })]),
      /Hash value must be a string/,
    );
  });
});

/** Every character an XFCC value can carry: tab, space, visible ASCII, obs-text. */
const valueChar = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...'aZ09:/.-_=,;"\\ \t%'.split('')) },
  { weight: 1, arbitrary: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)) },
  { weight: 1, arbitrary: fc.integer({ min: 0x80, max: 0xff }).map((c) => String.fromCharCode(c)) },
);
const value = fc.string({ unit: valueChar, maxLength: 12 });
const values = fc.array(value, { maxLength: 3 });
const element: fc.Arbitrary<XfccElement> = fc
  .record(
    {
      by: values,
      uri: values,
      dns: values,
      hash: value,
      cert: value,
      chain: value,
      subject: value,
    },
    { requiredKeys: ['by', 'uri', 'dns'], noNullPrototype: true },
  )
  .filter((e) => Object.keys(e).length > 3 || e.by.length + e.uri.length + e.dns.length > 0);
const header = fc.array(element, { minLength: 1, maxLength: 4 }).map(formatXfcc);

function onlySdkErrors(input: string): void {
  try {
    parseXfcc(input);
  } catch (err) {
    assert.ok(err instanceof XfccError, `unexpected ${String(err)} for ${JSON.stringify(input)}`);
  }
}

describe('parseXfcc: properties', () => {
  it('generated elements round-trip through formatXfcc and parseXfcc', () => {
    fc.assert(
      fc.property(fc.array(element, { minLength: 1, maxLength: 4 }), (elements) => {
        assert.deepEqual(parseXfcc(formatXfcc(elements)), elements);
      }),
      { numRuns: 500 },
    );
  });

  it('arbitrary strings only ever throw XfccError', () => {
    // Grammar tokens, and any UTF-16 code unit (lone surrogates included).
    const unit = fc.oneof(
      fc.constantFrom('By', 'URI', 'Subject', 'hash', '=', '"', ';', ',', '\\', ' ', 'a', '\u0000'),
      fc.nat({ max: 0xffff }).map((c) => String.fromCharCode(c)),
    );
    fc.assert(fc.property(fc.oneof(fc.string(), fc.string({ unit })), onlySdkErrors), {
      numRuns: 2000,
    });
  });

  it('well-formed headers with one character changed only ever throw XfccError', () => {
    const mutation = fc.tuple(
      header,
      fc.nat(),
      fc.nat({ max: 0xff }),
      fc.constantFrom('replace', 'insert', 'delete'),
    );
    fc.assert(
      fc.property(mutation, ([h, at, code, kind]) => {
        const i = at % (h.length + 1);
        const c = String.fromCharCode(code);
        const mutated =
          kind === 'replace'
            ? h.slice(0, i) + c + h.slice(i + 1)
            : kind === 'insert'
              ? h.slice(0, i) + c + h.slice(i)
              : h.slice(0, i) + h.slice(i + 1);
        onlySdkErrors(mutated);
      }),
      { numRuns: 2000 },
    );
  });

  it('XfccError is a SpiffeError', () => {
    assert.throws(() => parseXfcc(''), SpiffeError);
  });
});
