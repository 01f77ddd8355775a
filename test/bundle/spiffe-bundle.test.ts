import assert from 'node:assert/strict';
import { createHash, type X509Certificate } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import {
  BundleNotFoundError,
  InvalidArgumentError,
  InvalidBundleError,
  JwtBundle,
  MAX_BUNDLE_DOCUMENT_DEPTH,
  MAX_BUNDLE_DOCUMENT_SIZE,
  SpiffeBundle,
  X509Bundle,
} from '../../src/bundle/index.js';
import { TestCA } from '../../src/testing/index.js';
import {
  b64,
  caCertificate,
  doc,
  hostileInputs,
  type Json,
  jwkOf,
  jwtEntry,
  onlySpiffeErrors,
  otherTd,
  publicKey,
  td,
  throwsWith,
  withUndecodableKey,
  x509Entry,
} from './fixtures.js';

const parse = (text: string | Uint8Array): SpiffeBundle => SpiffeBundle.parse(td, text);
const rejects = (text: string | Uint8Array, message: RegExp): void => {
  throwsWith(() => parse(text), InvalidBundleError, message);
};

let ca: X509Certificate;
let caP384: X509Certificate;
let caRsa: X509Certificate;
let caEd: X509Certificate;
let ca2: X509Certificate;

before(async () => {
  [ca, caP384, caRsa, caEd, ca2] = await Promise.all([
    caCertificate('ec-p256'),
    caCertificate('ec-p384'),
    caCertificate('rsa-2048'),
    caCertificate('ed25519'),
    caCertificate('ec-p256'),
  ]);
});

describe('SpiffeBundle.parse: the document', () => {
  it('parses X.509 and JWT authorities, sequence number and refresh hint', () => {
    const bundle = parse(
      doc([x509Entry(ca), jwtEntry('k1'), x509Entry(ca2), jwtEntry('k2', publicKey('rsa-2048'))], {
        spiffe_sequence: 7,
        spiffe_refresh_hint: 300,
      }),
    );
    assert.equal(bundle.trustDomain, td);
    assert.deepEqual(
      bundle.x509Authorities.map((c) => c.fingerprint256),
      [ca.fingerprint256, ca2.fingerprint256],
    );
    assert.deepEqual([...bundle.jwtAuthorities.keys()], ['k1', 'k2']);
    assert.ok(bundle.findJwtAuthority('k1')?.equals(publicKey()));
    assert.ok(bundle.findJwtAuthority('k2')?.equals(publicKey('rsa-2048')));
    assert.equal(bundle.sequenceNumber, 7n);
    assert.equal(bundle.refreshHint, 300);
  });

  it('accepts the document as bytes', () => {
    const bundle = parse(new TextEncoder().encode(doc([jwtEntry('k1')])));
    assert.ok(bundle.hasJwtAuthority('k1'));
  });

  it('accepts "keys": [] as an empty bundle (positive control for the rules below)', () => {
    const bundle = parse('{"keys":[]}');
    assert.ok(bundle.isEmpty());
    assert.equal(bundle.sequenceNumber, undefined);
    assert.equal(bundle.refreshHint, undefined);
  });

  it('ignores unknown top-level members (TD&B §4.1)', () => {
    assert.ok(parse('{"keys":[],"spiffe_other":{"a":[1,2]},"x":null}').isEmpty());
  });

  for (const [name, text, message] of [
    ['invalid JSON', '{"keys":[]', /invalid JSON/],
    ['empty input', '', /invalid JSON/],
    ['an array', '[]', /not a JSON object/],
    ['a string', '"keys"', /not a JSON object/],
    ['null', 'null', /not a JSON object/],
    ['no "keys"', '{"spiffe_sequence":1}', /"keys" must be present/],
    ['"keys": null', '{"keys":null}', /"keys" must be present and be an array/],
    ['"keys" an object', '{"keys":{}}', /"keys" must be present and be an array/],
    ['"keys" a string', '{"keys":"[]"}', /"keys" must be present and be an array/],
    ['a number in "keys"', '{"keys":[1]}', /key 0: not a JSON object/],
    ['null in "keys"', '{"keys":[null]}', /key 0: not a JSON object/],
    ['an array in "keys"', '{"keys":[[]]}', /key 0: not a JSON object/],
    ['a duplicate top-level member', '{"keys":[],"keys":[]}', /duplicate member name "keys"/],
    ['a trailing comma', '{"keys":[],}', /invalid JSON/],
  ] as const) {
    it(`rejects ${name}`, () => {
      rejects(text, message);
    });
  }

  it('rejects a duplicate member inside an entry (which JSON.parse would silently collapse)', () => {
    const entry = JSON.stringify(jwtEntry('k1'));
    rejects(`{"keys":[${entry.slice(0, -1)},"use":"x509-svid"}]}`, /duplicate member name "use"/);
    rejects(`{"keys":[${entry.slice(0, -1)},"kid":"k2"}]}`, /duplicate member name "kid"/);
  });

  it('rejects malformed UTF-8 bytes, and names the trust domain', () => {
    rejects(
      Uint8Array.from([0x7b, 0xff, 0x7d]),
      /SPIFFE bundle for trust domain "example.org".*UTF-8/,
    );
  });

  it(`rejects a document larger than MAX_BUNDLE_DOCUMENT_SIZE, accepts one of exactly that size`, () => {
    const body = '{"keys":[]}';
    const exact = body + ' '.repeat(MAX_BUNDLE_DOCUMENT_SIZE - body.length);
    assert.ok(parse(exact).isEmpty());
    rejects(`${exact} `, /limit is 8388608/);
  });

  it(`rejects nesting deeper than ${MAX_BUNDLE_DOCUMENT_DEPTH}, even in ignored members`, () => {
    const nest = (n: number): string => '['.repeat(n) + ']'.repeat(n);
    // The document object is level 1, so the member may add MAX - 1 levels.
    assert.ok(parse(`{"keys":[],"x":${nest(MAX_BUNDLE_DOCUMENT_DEPTH - 1)}}`).isEmpty());
    rejects(`{"keys":[],"x":${nest(MAX_BUNDLE_DOCUMENT_DEPTH)}}`, /nesting deeper than 64/);
  });
});

describe('SpiffeBundle.parse: spiffe_sequence', () => {
  for (const [text, value] of [
    ['0', 0n],
    ['1', 1n],
    ['9007199254740993', 2n ** 53n + 1n],
    ['18446744073709551615', 2n ** 64n - 1n],
  ] as const) {
    it(`keeps ${text} exactly`, () => {
      assert.equal(parse(`{"keys":[],"spiffe_sequence":${text}}`).sequenceNumber, value);
    });
  }

  for (const [text, message] of [
    ['18446744073709551616', /"spiffe_sequence" 18446744073709551616 is outside the range/],
    ['-1', /"spiffe_sequence" -1 is outside the range/],
    ['1.5', /"spiffe_sequence" must be an integer written without fraction or exponent/],
    ['1.0', /must be an integer written without fraction or exponent, not the number 1/],
    ['1e2', /must be an integer written without fraction or exponent/],
    ['"1"', /must be an integer .*not a string/],
    ['null', /must be an integer .*not null/],
    ['true', /must be an integer .*not a boolean/],
    ['[1]', /must be an integer .*not an array/],
  ] as const) {
    it(`rejects ${text}`, () => {
      rejects(`{"keys":[],"spiffe_sequence":${text}}`, message);
    });
  }
});

describe('SpiffeBundle.parse: spiffe_refresh_hint', () => {
  for (const [text, value] of [
    ['0', 0],
    ['300', 300],
    ['9007199254740991', Number.MAX_SAFE_INTEGER],
  ] as const) {
    it(`reads ${text} seconds`, () => {
      assert.equal(parse(`{"keys":[],"spiffe_refresh_hint":${text}}`).refreshHint, value);
    });
  }

  for (const [text, message] of [
    ['-1', /"spiffe_refresh_hint" -1 is outside the range 0\.\.9007199254740991/],
    ['9007199254740992', /"spiffe_refresh_hint" 9007199254740992 is outside the range/],
    ['1.5', /"spiffe_refresh_hint" must be an integer/],
    ['3e2', /"spiffe_refresh_hint" must be an integer/],
    ['"300"', /"spiffe_refresh_hint" must be an integer/],
    ['null', /"spiffe_refresh_hint" must be an integer/],
  ] as const) {
    it(`rejects ${text}`, () => {
      rejects(`{"keys":[],"spiffe_refresh_hint":${text}}`, message);
    });
  }
});

describe('SpiffeBundle.parse: which entries count (TD&B §4.2)', () => {
  const garbage: Json = { kty: 'EC', crv: 'P-256', x: '!!', y: '??' };

  it('rejects a malformed entry of a known use (positive control for the next tests)', () => {
    rejects(doc([{ ...garbage, use: 'x509-svid', x5c: [b64(ca)] }]), /key 0 \(x509-svid\)/);
    rejects(doc([{ ...garbage, use: 'jwt-svid', kid: 'k' }]), /key 0 \(jwt-svid\)/);
  });

  for (const [name, use] of [
    ['no "use"', undefined],
    ['"use": "enc"', 'enc'],
    ['"use": "sig"', 'sig'],
    ['"use": "wit-svid"', 'wit-svid'],
    ['"use" in another case', 'X509-SVID'],
    ['a non-string "use"', 5],
  ] as const) {
    it(`ignores an entry with ${name}, however malformed`, () => {
      // x5c makes the entry look like an X.509 authority if the use rule were not applied first.
      const base = { ...garbage, kid: 'k', x5c: [b64(ca)] };
      const entry = use === undefined ? base : { ...base, use };
      const bundle = parse(doc([entry, jwtEntry('good')]));
      assert.deepEqual([...bundle.jwtAuthorities.keys()], ['good']);
      assert.equal(bundle.x509Authorities.length, 0);
    });
  }

  for (const kty of ['oct', 'ec', 'Unknown', 'EC2']) {
    it(`ignores an entry of unknown kty ${JSON.stringify(kty)} for either use`, () => {
      const bundle = parse(
        doc([
          { ...garbage, kty, use: 'jwt-svid', kid: 'k', k: 'c2VjcmV0' },
          { ...garbage, kty, use: 'x509-svid', x5c: ['not base64!'] },
        ]),
      );
      assert.ok(bundle.isEmpty());
    });
  }

  it('rejects an entry of a known use without a string "kty"', () => {
    rejects(
      doc([{ ...jwtEntry('k1'), kty: undefined }]),
      /key 0 \(jwt-svid\): "kty" is missing or not a string/,
    );
    rejects(doc([{ ...jwtEntry('k1'), kty: 1 }]), /"kty" is missing or not a string/);
    rejects(doc([{ ...x509Entry(ca), kty: null }]), /key 0 \(x509-svid\): "kty" is missing/);
  });
});

describe('SpiffeBundle.parse: x509-svid entries', () => {
  it('reads CA certificates with EC P-256, P-384, RSA and Ed25519 keys', () => {
    const bundle = parse(
      doc([x509Entry(ca), x509Entry(caP384), x509Entry(caRsa), x509Entry(caEd)]),
    );
    assert.deepEqual(
      bundle.x509Authorities.map((c) => c.fingerprint256),
      [ca, caP384, caRsa, caEd].map((c) => c.fingerprint256),
    );
  });

  it('ignores an entry without x5c or with an empty x5c (X509-SVID §6.2)', () => {
    assert.ok(parse(doc([{ ...x509Entry(ca), x5c: undefined }])).isEmpty());
    assert.ok(parse(doc([{ ...x509Entry(ca), x5c: [] }])).isEmpty());
  });

  it('uses the first x5c certificate and ignores the rest (X509-SVID §6.2)', () => {
    const bundle = parse(doc([x509Entry(ca, { x5c: [b64(ca), b64(ca2), 'not even base64!'] })]));
    assert.deepEqual(
      bundle.x509Authorities.map((c) => c.fingerprint256),
      [ca.fingerprint256],
    );
  });

  it('keeps a certificate listed twice once', () => {
    assert.equal(parse(doc([x509Entry(ca), x509Entry(ca)])).x509Authorities.length, 1);
  });

  it('ignores "kid" on an x509-svid entry, also when a jwt-svid entry has the same kid', () => {
    const bundle = parse(doc([x509Entry(ca, { kid: 'k1' }), jwtEntry('k1')]));
    assert.equal(bundle.x509Authorities.length, 1);
    assert.ok(bundle.hasJwtAuthority('k1'));
  });

  it('does not check certificate validity dates (an expired CA is still read)', async () => {
    const old = await TestCA.create({ trustDomain: td, now: new Date('2001-01-01T00:00:00Z') });
    const [root] = old.x509Authorities;
    assert.ok(root && new Date(root.validTo) < new Date());
    assert.equal(parse(doc([x509Entry(root)])).x509Authorities.length, 1);
  });

  it('wraps the plain errors asn1js throws on hostile DER in x5c', () => {
    const hostile = Buffer.from([0x18, 0x03, 0x41, 0x42, 0x43]).toString('base64');
    rejects(
      doc([x509Entry(ca, { x5c: [hostile] })]),
      /key 0 \(x509-svid\): x5c\[0\]: malformed DER/,
    );
  });

  it('rejects an x5c certificate whose public key cannot be decoded', () => {
    const broken = withUndecodableKey(ca);
    rejects(
      doc([x509Entry(ca, { x5c: [b64(broken)] })]),
      /key 0 \(x509-svid\): x5c\[0\]: the certificate's public key cannot be decoded/,
    );
  });

  it('accepts matching x5t and x5t#S256 thumbprints (positive control)', () => {
    const x5t = createHash('sha1').update(ca.raw).digest('base64url');
    const x5tS256 = createHash('sha256').update(ca.raw).digest('base64url');
    assert.equal(
      parse(doc([x509Entry(ca, { x5t, 'x5t#S256': x5tS256 })])).x509Authorities.length,
      1,
    );
  });

  const otherThumb = createHash('sha1').update('other').digest('base64url');
  const cases: [string, () => Json, RegExp][] = [
    ['x5c not an array', () => x509Entry(ca, { x5c: b64(ca) }), /"x5c" must be an array/],
    ['x5c[0] not a string', () => x509Entry(ca, { x5c: [5] }), /x5c\[0\]: not a base64 DER/],
    [
      'x5c[0] in base64url',
      () => x509Entry(ca, { x5c: [ca.raw.toString('base64url')] }),
      /x5c\[0\]: not a base64 DER certificate/,
    ],
    [
      'x5c[0] with whitespace',
      () => x509Entry(ca, { x5c: [`${b64(ca).slice(0, 10)} ${b64(ca).slice(10)}`] }),
      /x5c\[0\]: not a base64 DER/,
    ],
    [
      'x5c[0] not a certificate',
      () => x509Entry(ca, { x5c: [Buffer.from('not a certificate').toString('base64')] }),
      /x5c\[0\]: malformed/,
    ],
    [
      'x5c[0] with trailing bytes',
      () =>
        x509Entry(ca, {
          x5c: [Buffer.concat([ca.raw, Buffer.from([0x05, 0x00])]).toString('base64')],
        }),
      /x5c\[0\]: expected one DER certificate, found 2 DER structures/,
    ],
    [
      'two certificates in x5c[0]',
      () => x509Entry(ca, { x5c: [Buffer.concat([ca.raw, ca2.raw]).toString('base64')] }),
      /expected one DER certificate, found 2/,
    ],
    [
      'key members of another key',
      () => ({ ...x509Entry(ca), ...jwkOf(publicKey('ec-p256', 7)) }),
      /do not match the public key of the x5c certificate/,
    ],
    [
      'key members of another key type',
      () => ({ ...x509Entry(caRsa), ...jwkOf(publicKey('ec-p256')), n: undefined, e: undefined }),
      /do not match the public key/,
    ],
    [
      'no key members',
      () => ({ kty: 'EC', crv: 'P-256', use: 'x509-svid', x5c: [b64(ca)] }),
      /"x" is missing or not a string/,
    ],
    ['a wrong x5t', () => x509Entry(ca, { x5t: otherThumb }), /"x5t" is not the thumbprint/],
    [
      'a wrong x5t#S256',
      () => x509Entry(ca, { 'x5t#S256': otherThumb }),
      /"x5t#S256" is not the thumbprint/,
    ],
    ['private key member "d"', () => x509Entry(ca, { d: 'AAAA' }), /private key material \("d"\)/],
    [
      'private member "d" even without x5c',
      () => ({ ...jwkOf(ca.publicKey), use: 'x509-svid', d: 'AAAA' }),
      /private key material/,
    ],
  ];
  it('accepts the unmodified entry (positive control for the rejections below)', () => {
    assert.equal(parse(doc([x509Entry(ca)])).x509Authorities.length, 1);
  });
  for (const [name, entry, message] of cases) {
    it(`rejects an entry with ${name}, saying which entry`, () => {
      rejects(
        doc([x509Entry(ca2), entry()]),
        new RegExp(`key 1 \\(x509-svid\\).*${message.source}`),
      );
    });
  }
});

describe('SpiffeBundle.parse: jwt-svid entries', () => {
  it('reads EC P-256/P-384/P-521, RSA and Ed25519 keys', () => {
    const kinds = ['ec-p256', 'ec-p384', 'ec-p521', 'rsa-2048', 'ed25519'] as const;
    const bundle = parse(doc(kinds.map((k) => jwtEntry(k, publicKey(k)))));
    for (const k of kinds) assert.ok(bundle.findJwtAuthority(k)?.equals(publicKey(k)), k);
  });

  it('accepts the same key under two kids, and an x5c that carries the key', async () => {
    const testCa = await TestCA.create({ trustDomain: td });
    const cert = testCa.rootCertificate;
    const bundle = parse(
      doc([
        jwtEntry('a'),
        jwtEntry('b'),
        jwtEntry('c', cert.certificate.publicKey, { x5c: [b64(cert.certificate)] }),
      ]),
    );
    assert.deepEqual([...bundle.jwtAuthorities.keys()], ['a', 'b', 'c']);
  });

  it('rejects two entries with the same kid (go-spiffe keeps the last one)', () => {
    rejects(
      doc([jwtEntry('k1'), jwtEntry('k1', publicKey('ec-p384'))]),
      /key 1 \(jwt-svid\): duplicate "kid" "k1"/,
    );
  });

  const ec = jwkOf(publicKey());
  const coordinate = (s: unknown): Buffer => Buffer.from(String(s), 'base64url');
  const cases: [string, Json, RegExp][] = [
    ['no kid', { ...jwtEntry('x'), kid: undefined }, /needs a non-empty string "kid"/],
    ['an empty kid', jwtEntry(''), /needs a non-empty string "kid"/],
    ['a numeric kid', { ...jwtEntry('x'), kid: 5 }, /needs a non-empty string "kid"/],
    [
      'an unsupported EC curve',
      jwtEntry('k', publicKey(), { crv: 'secp256k1' }),
      /unsupported EC curve "secp256k1"/,
    ],
    ['no crv', { ...jwtEntry('k'), crv: undefined }, /"crv" is missing or not a string/],
    [
      'no OKP crv',
      { ...jwtEntry('k', publicKey('ed25519')), crv: undefined },
      /"crv" is missing or not a string/,
    ],
    [
      'a P-384 curve name on a P-256 point',
      jwtEntry('k', publicKey(), { crv: 'P-384' }),
      /P-384 coordinates must be 48 bytes/,
    ],
    [
      'a short x',
      jwtEntry('k', publicKey(), { x: coordinate(ec['x']).subarray(1).toString('base64url') }),
      /coordinates must be 32 bytes each, got 31/,
    ],
    [
      'a zero-padded x (node:crypto would accept it)',
      jwtEntry('k', publicKey(), {
        x: Buffer.concat([Buffer.alloc(1), coordinate(ec['x'])]).toString('base64url'),
      }),
      /coordinates must be 32 bytes each, got 33/,
    ],
    [
      'a padded x',
      jwtEntry('k', publicKey(), { x: `${String(ec['x'])}=` }),
      /"x" is not unpadded base64url/,
    ],
    [
      'standard base64 in y',
      jwtEntry('k', publicKey(), {
        y: coordinate(ec['y']).toString('base64').replace(/=+$/, '').replace(/[^+/]/, '+'),
      }),
      /"y" is not unpadded base64url/,
    ],
    ['a non-string x', jwtEntry('k', publicKey(), { x: 5 }), /"x" is missing or not a string/],
    ['no y', { ...jwtEntry('k'), y: undefined }, /"y" is missing or not a string/],
    ['a point off the curve', jwtEntry('k', publicKey(), { y: ec['x'] }), /invalid EC key/],
    [
      'an OKP curve other than Ed25519',
      jwtEntry('k', publicKey('ed25519'), { crv: 'X25519' }),
      /unsupported OKP curve "X25519"/,
    ],
    [
      'a short Ed25519 key',
      jwtEntry('k', publicKey('ed25519'), { x: 'AAAA' }),
      /an Ed25519 key must be 32 bytes, got 3/,
    ],
    [
      'an RSA exponent of 1',
      jwtEntry('k', publicKey('rsa-2048'), { e: 'AQ' }),
      /RSA public exponent 1 is not an odd number/,
    ],
    [
      'an even RSA exponent',
      jwtEntry('k', publicKey('rsa-2048'), { e: 'AQAA' }),
      /RSA public exponent 65536 is not an odd number/,
    ],
    [
      'an RSA modulus of 1024 bits',
      jwtEntry('k', publicKey('rsa-2048'), {
        n: coordinate(jwkOf(publicKey('rsa-2048'))['n'])
          .subarray(0, 128)
          .toString('base64url'),
      }),
      /RSA modulus of 1024 bits is below the 2048-bit minimum/,
    ],
    [
      'an empty RSA modulus (node:crypto would build a key)',
      jwtEntry('k', publicKey('rsa-2048'), { n: '' }),
      /RSA modulus of 0 bits/,
    ],
    ['no RSA modulus', { ...jwtEntry('k', publicKey('rsa-2048')), n: undefined }, /"n" is missing/],
    [
      'an x5c that is not an array',
      jwtEntry('k', publicKey(), { x5c: 'MII=' }),
      /"x5c" must be an array/,
    ],
  ];
  for (const member of ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k']) {
    cases.push([
      `the private member "${member}"`,
      jwtEntry('k', publicKey(), { [member]: 'AAAA' }),
      new RegExp(`private key material \\("${member}"\\)`),
    ]);
  }
  it('accepts the unmodified entries (positive control for the rejections below)', () => {
    for (const k of ['ec-p256', 'rsa-2048', 'ed25519'] as const) {
      assert.ok(parse(doc([jwtEntry('k', publicKey(k))])).hasJwtAuthority('k'));
    }
  });
  for (const [name, entry, message] of cases) {
    it(`rejects an entry with ${name}, saying which entry`, () => {
      rejects(
        doc([jwtEntry('first'), entry]),
        new RegExp(`key 1 \\(jwt-svid\\).*${message.source}`),
      );
    });
  }

  it('rejects an x5c that does not carry the JWT key', () => {
    rejects(
      doc([jwtEntry('k', publicKey(), { x5c: [b64(ca)] })]),
      /do not match the public key of the x5c/,
    );
  });

  it('never echoes key material from a rejected private key into the message', () => {
    const secret = 'c2VjcmV0LXByaXZhdGUta2V5LW1hdGVyaWFs';
    throwsWith(
      () => parse(doc([jwtEntry('k', publicKey(), { d: secret })])),
      InvalidBundleError,
      /^(?!.*c2VjcmV0).*$/s,
    );
  });
});

describe('SpiffeBundle.marshal', () => {
  it('writes an empty bundle as {"keys":[]} and reads it back (go-spiffe writes "keys":null)', () => {
    const empty = SpiffeBundle.empty(td);
    assert.equal(empty.marshal(), '{"keys":[]}');
    assert.ok(parse(empty.marshal()).equals(empty));
  });

  it('writes X.509 entries in order, then JWT entries sorted by kid, then sequence and hint', () => {
    const bundle = SpiffeBundle.empty(td)
      .withX509Authorities([ca2, ca])
      .withJwtAuthority('z', publicKey('ed25519'))
      .withJwtAuthority('a', publicKey('rsa-2048'))
      .withJwtAuthority('m', publicKey())
      .withSequenceNumber(2n ** 64n - 1n)
      .withRefreshHint(60);
    const text = bundle.marshal();
    assert.match(text, /"spiffe_sequence":18446744073709551615,"spiffe_refresh_hint":60\}$/);
    const json = JSON.parse(text) as { keys: Json[] };
    assert.deepEqual(
      json.keys.map((k) => [k['use'], k['kid'], k['kty']]),
      [
        ['x509-svid', undefined, 'EC'],
        ['x509-svid', undefined, 'EC'],
        ['jwt-svid', 'a', 'RSA'],
        ['jwt-svid', 'm', 'EC'],
        ['jwt-svid', 'z', 'OKP'],
      ],
    );
    assert.deepEqual(json.keys[0]?.['x5c'], [b64(ca2)]);
    assert.deepEqual(json.keys[1]?.['x5c'], [b64(ca)]);
    assert.ok(parse(text).equals(bundle));
  });

  it('writes equal bundles as equal text whatever the insertion order', () => {
    const a = SpiffeBundle.empty(td)
      .withJwtAuthority('b', publicKey())
      .withJwtAuthority('a', publicKey('ec-p384'));
    const b = SpiffeBundle.empty(td)
      .withJwtAuthority('a', publicKey('ec-p384'))
      .withJwtAuthority('b', publicKey());
    assert.equal(a.marshal(), b.marshal());
  });

  it('round-trips every supported key type', () => {
    const bundle = SpiffeBundle.empty(td)
      .withX509Authorities([ca, caP384, caRsa, caEd])
      .withJwtAuthorities({
        p256: publicKey(),
        p521: publicKey('ec-p521'),
        rsa: publicKey('rsa-2048'),
        ed: publicKey('ed25519'),
      });
    assert.ok(parse(bundle.marshal()).equals(bundle));
  });

  it('refuses to write an X.509 authority whose key has no JWK form here, instead of writing what it cannot read', async () => {
    const testCa = await TestCA.create({ trustDomain: td });
    const weak = await testCa.createIntermediate({ keyType: 'rsa-1024' });
    const bundle = SpiffeBundle.empty(td).withX509Authority(weak.certificate);
    throwsWith(() => bundle.marshal(), InvalidBundleError, /X\.509 authority 0 .*1024 bits/);
    assert.doesNotThrow(() => SpiffeBundle.empty(td).withX509Authority(ca).marshal());
  });

  it('refuses to write an X.509 authority whose public key cannot be decoded', () => {
    const bundle = SpiffeBundle.empty(td).withX509Authorities([ca, withUndecodableKey(ca2)]);
    throwsWith(
      () => bundle.marshal(),
      InvalidBundleError,
      /cannot write X\.509 authority 1: the certificate's public key cannot be decoded/,
    );
  });

  it('round-trips random bundles (property)', () => {
    const certs = [ca, ca2, caP384, caRsa, caEd];
    const kinds = ['ec-p256', 'ec-p384', 'rsa-2048', 'ed25519'] as const;
    fc.assert(
      fc.property(
        fc.subarray(certs),
        fc.dictionary(fc.string({ minLength: 1, maxLength: 8 }), fc.constantFrom(...kinds), {
          maxKeys: 5,
        }),
        fc.option(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), { nil: undefined }),
        fc.option(fc.nat(), { nil: undefined }),
        (x509, jwt, sequence, hint) => {
          const bundle = SpiffeBundle.empty(td)
            .withX509Authorities(x509)
            .withJwtAuthorities(
              new Map(Object.entries(jwt).map(([kid, kind]) => [kid, publicKey(kind)])),
            )
            .withSequenceNumber(sequence)
            .withRefreshHint(hint);
          const again = parse(bundle.marshal());
          assert.ok(again.equals(bundle));
          assert.equal(again.marshal(), bundle.marshal());
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe('SpiffeBundle: construction and immutability', () => {
  it('is frozen, and so are its authority list and map', () => {
    const bundle = SpiffeBundle.empty(td).withX509Authority(ca).withJwtAuthority('k', publicKey());
    assert.ok(Object.isFrozen(bundle));
    assert.ok(Object.isFrozen(bundle.x509Authorities));
    assert.throws(() => {
      (bundle.x509Authorities as X509Certificate[]).push(ca2);
    }, TypeError);
    const map = bundle.jwtAuthorities as unknown as {
      set?: unknown;
      delete?: unknown;
      clear?: unknown;
    };
    assert.equal(map.set, undefined);
    assert.equal(map.delete, undefined);
    assert.equal(map.clear, undefined);
    assert.throws(() => {
      (bundle as { refreshHint?: number }).refreshHint = 5;
    }, TypeError);
  });

  it('with… methods return new bundles and leave the original unchanged', () => {
    const base = SpiffeBundle.empty(td);
    const next = base
      .withX509Authority(ca)
      .withJwtAuthority('k', publicKey())
      .withSequenceNumber(1)
      .withRefreshHint(10);
    assert.notEqual(next, base);
    assert.ok(base.isEmpty());
    assert.equal(base.sequenceNumber, undefined);
    assert.equal(base.refreshHint, undefined);
    assert.equal(next.sequenceNumber, 1n);
    assert.equal(next.refreshHint, 10);
    const fewer = next
      .withoutX509Authority(ca)
      .withoutJwtAuthority('k')
      .withSequenceNumber(undefined)
      .withRefreshHint(undefined);
    assert.ok(fewer.equals(base));
    assert.equal(next.x509Authorities.length, 1);
    assert.ok(next.hasJwtAuthority('k'));
  });

  it('returns the same bundle when nothing changes', () => {
    const bundle = SpiffeBundle.empty(td)
      .withX509Authority(ca)
      .withSequenceNumber(3n)
      .withRefreshHint(5);
    assert.equal(bundle.withX509Authority(ca), bundle);
    assert.equal(bundle.withoutJwtAuthority('absent'), bundle);
    assert.equal(bundle.withSequenceNumber(3), bundle);
    assert.equal(bundle.withRefreshHint(5), bundle);
  });

  it('builds from an X.509 bundle and a JWT bundle, and gives them back', () => {
    const x509 = X509Bundle.fromAuthorities(td, [ca]);
    const jwt = JwtBundle.fromAuthorities(td, { k: publicKey() });
    const bundle = SpiffeBundle.fromX509Bundle(x509).withJwtBundle(jwt);
    assert.equal(bundle.x509Bundle(), x509);
    assert.equal(bundle.jwtBundle(), jwt);
    assert.ok(SpiffeBundle.fromJwtBundle(jwt).jwtBundle().equals(jwt));
    assert.ok(SpiffeBundle.fromJwtBundle(jwt).x509Bundle().isEmpty());
    assert.ok(SpiffeBundle.fromX509Bundle(x509).hasX509Authority(ca));
  });

  it('refuses X.509 or JWT bundles of another trust domain', () => {
    const bundle = SpiffeBundle.empty(td);
    throwsWith(
      () => bundle.withX509Bundle(X509Bundle.empty(otherTd)),
      InvalidArgumentError,
      /X\.509 bundle of trust domain "other.org"/,
    );
    throwsWith(
      () => bundle.withJwtBundle(JwtBundle.empty(otherTd)),
      InvalidArgumentError,
      /JWT bundle of trust domain "other.org"/,
    );
    assert.doesNotThrow(() =>
      bundle.withX509Bundle(X509Bundle.empty(td)).withJwtBundle(JwtBundle.empty(td)),
    );
  });

  for (const [value, message] of [
    [-1, /outside the unsigned 64-bit range/],
    [-1n, /outside the unsigned 64-bit range/],
    [2n ** 64n, /outside the unsigned 64-bit range/],
    [1.5, /not a safe integer/],
    [Number.NaN, /not a safe integer/],
    [2 ** 53, /not a safe integer; pass a bigint/],
  ] as const) {
    it(`withSequenceNumber refuses ${String(value)}`, () => {
      throwsWith(
        () => SpiffeBundle.empty(td).withSequenceNumber(value),
        InvalidArgumentError,
        message,
      );
    });
  }

  it('withSequenceNumber accepts 0, safe numbers and 2^64 - 1 (positive control)', () => {
    assert.equal(SpiffeBundle.empty(td).withSequenceNumber(0).sequenceNumber, 0n);
    assert.equal(
      SpiffeBundle.empty(td).withSequenceNumber(Number.MAX_SAFE_INTEGER).sequenceNumber,
      2n ** 53n - 1n,
    );
    assert.equal(
      SpiffeBundle.empty(td).withSequenceNumber(2n ** 64n - 1n).sequenceNumber,
      2n ** 64n - 1n,
    );
  });

  for (const value of [-1, 1.5, Number.NaN, Infinity, 2 ** 53]) {
    it(`withRefreshHint refuses ${value}`, () => {
      throwsWith(
        () => SpiffeBundle.empty(td).withRefreshHint(value),
        InvalidArgumentError,
        /not a non-negative whole number of seconds/,
      );
    });
  }

  it('withRefreshHint accepts 0 and whole seconds (positive control)', () => {
    assert.equal(SpiffeBundle.empty(td).withRefreshHint(0).refreshHint, 0);
    assert.equal(SpiffeBundle.empty(td).withRefreshHint(86400).refreshHint, 86400);
  });

  it('refuses private, secret and unsupported JWT keys', async () => {
    const { generateKeyPairSync, createSecretKey } = await import('node:crypto');
    const bundle = SpiffeBundle.empty(td);
    throwsWith(
      () =>
        bundle.withJwtAuthority('k', generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey),
      InvalidArgumentError,
      /expected a public key, not a private key/,
    );
    throwsWith(
      () => bundle.withJwtAuthority('k', createSecretKey(Buffer.alloc(32))),
      InvalidArgumentError,
      /not a secret key/,
    );
    throwsWith(
      () => bundle.withJwtAuthority('k', generateKeyPairSync('x25519').publicKey),
      InvalidArgumentError,
      /unsupported key type x25519/,
    );
    throwsWith(
      () =>
        bundle.withJwtAuthority(
          'k',
          generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).publicKey,
        ),
      InvalidArgumentError,
      /unsupported EC curve secp256k1/,
    );
    throwsWith(
      () => bundle.withJwtAuthority('', publicKey()),
      InvalidArgumentError,
      /non-empty key ID/,
    );
    assert.ok(bundle.withJwtAuthority('k', publicKey()).hasJwtAuthority('k'));
  });
});

describe('SpiffeBundle.equals', () => {
  const base = (): SpiffeBundle =>
    SpiffeBundle.empty(td)
      .withX509Authorities([ca, ca2])
      .withJwtAuthority('k', publicKey())
      .withSequenceNumber(1)
      .withRefreshHint(5);

  it('is true for equal content built separately', () => {
    assert.ok(base().equals(base()));
  });

  for (const [name, change] of [
    [
      'trust domain',
      (b: SpiffeBundle) =>
        SpiffeBundle.empty(otherTd)
          .withX509Authorities(b.x509Authorities)
          .withJwtAuthorities(b.jwtAuthorities)
          .withSequenceNumber(1)
          .withRefreshHint(5),
    ],
    ['X.509 order', (b: SpiffeBundle) => b.withX509Authorities([ca2, ca])],
    ['X.509 authorities', (b: SpiffeBundle) => b.withoutX509Authority(ca2)],
    ['JWT key', (b: SpiffeBundle) => b.withJwtAuthority('k', publicKey('ec-p384'))],
    [
      'JWT kid',
      (b: SpiffeBundle) => b.withoutJwtAuthority('k').withJwtAuthority('k2', publicKey()),
    ],
    ['sequence number', (b: SpiffeBundle) => b.withSequenceNumber(2)],
    ['no sequence number', (b: SpiffeBundle) => b.withSequenceNumber(undefined)],
    ['refresh hint', (b: SpiffeBundle) => b.withRefreshHint(6)],
    ['no refresh hint', (b: SpiffeBundle) => b.withRefreshHint(undefined)],
  ] as const) {
    it(`is false when the ${name} differs`, () => {
      assert.equal(base().equals(change(base())), false);
      assert.equal(change(base()).equals(base()), false);
    });
  }
});

describe('SpiffeBundle as a source', () => {
  const bundle = (): SpiffeBundle =>
    SpiffeBundle.empty(td).withX509Authority(ca).withJwtAuthority('k', publicKey());

  it('returns itself and its X.509 and JWT bundles for its own trust domain', () => {
    const b = bundle();
    assert.equal(b.getBundleForTrustDomain(td), b);
    assert.equal(b.getX509BundleForTrustDomain(td), b.x509Bundle());
    assert.equal(b.getJwtBundleForTrustDomain(td), b.jwtBundle());
  });

  for (const [kind, get] of [
    ['SPIFFE', (b: SpiffeBundle) => b.getBundleForTrustDomain(otherTd)],
    ['X.509', (b: SpiffeBundle) => b.getX509BundleForTrustDomain(otherTd)],
    ['JWT', (b: SpiffeBundle) => b.getJwtBundleForTrustDomain(otherTd)],
  ] as const) {
    it(`throws BundleNotFoundError for a ${kind} bundle of another trust domain`, () => {
      assert.throws(
        () => get(bundle()),
        (err: unknown) => {
          assert.ok(err instanceof BundleNotFoundError);
          assert.equal(err.trustDomain, 'other.org');
          assert.equal(err.code, 'ERR_SPIFFE_BUNDLE_NOT_FOUND');
          assert.match(
            err.message,
            new RegExp(`no ${kind.replace('.', '\\.')} bundle for trust domain "other.org"`),
          );
          return true;
        },
      );
    });
  }
});

describe('SpiffeBundle.load', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'spiffe-bundle-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads a bundle file', async () => {
    const path = join(dir, 'ok.json');
    const bundle = SpiffeBundle.empty(td).withX509Authority(ca).withSequenceNumber(9);
    await writeFile(path, bundle.marshal());
    assert.ok((await SpiffeBundle.load(td, path)).equals(bundle));
  });

  it('names the file when the content is invalid', async () => {
    const path = join(dir, 'bad.json');
    await writeFile(path, '{"keys":{}}');
    await assert.rejects(SpiffeBundle.load(td, path), (err: unknown) => {
      assert.ok(err instanceof InvalidBundleError);
      assert.match(err.message, /"keys" must be present.*\(file .*bad\.json\)/);
      return true;
    });
  });

  it('refuses a file larger than MAX_BUNDLE_DOCUMENT_SIZE without reading it', async () => {
    const path = join(dir, 'huge.json');
    await writeFile(path, '');
    await truncate(path, MAX_BUNDLE_DOCUMENT_SIZE + 1);
    await assert.rejects(SpiffeBundle.load(td, path), InvalidBundleError);
  });

  it(
    'stops reading a file that is longer than it claims (a device such as /dev/zero)',
    {
      skip: !existsSync('/dev/zero'),
    },
    async () => {
      await assert.rejects(SpiffeBundle.load(td, '/dev/zero'), (err: unknown) => {
        assert.ok(err instanceof InvalidBundleError);
        assert.match(err.message, /longer than the 8388608-byte limit/);
        return true;
      });
    },
  );

  it('passes file system errors through unchanged', async () => {
    await assert.rejects(SpiffeBundle.load(td, join(dir, 'missing.json')), (err: unknown) => {
      assert.equal((err as NodeJS.ErrnoException).code, 'ENOENT');
      assert.ok(!(err instanceof InvalidBundleError));
      return true;
    });
  });

  it('honours an aborted signal', async () => {
    const path = join(dir, 'ok2.json');
    await writeFile(path, '{"keys":[]}');
    await assert.rejects(SpiffeBundle.load(td, path, { signal: AbortSignal.abort() }), {
      name: 'AbortError',
    });
    assert.ok(
      (await SpiffeBundle.load(td, path, { signal: new AbortController().signal })).isEmpty(),
    );
  });
});

describe('SpiffeBundle.parse: hostile input (property)', () => {
  it('throws nothing but SpiffeError subclasses', () => {
    fc.assert(
      fc.property(hostileInputs, (input) => {
        onlySpiffeErrors(() => parse(input));
      }),
      { numRuns: 1000 },
    );
  });

  it('throws nothing but SpiffeError subclasses for mutated valid bundles', () => {
    const valid = doc([x509Entry(ca), jwtEntry('k1'), jwtEntry('k2', publicKey('rsa-2048'))], {
      spiffe_sequence: 1,
    });
    fc.assert(
      fc.property(
        fc.nat(valid.length),
        fc.nat(5),
        fc.string({ maxLength: 4 }),
        (at, drop, insert) => {
          onlySpiffeErrors(() => parse(valid.slice(0, at) + insert + valid.slice(at + drop)));
        },
      ),
      { numRuns: 400 },
    );
  });
});
