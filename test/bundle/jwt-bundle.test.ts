import assert from 'node:assert/strict';
import { createSecretKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
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
  MAX_BUNDLE_DOCUMENT_SIZE,
} from '../../src/bundle/index.js';
import {
  doc,
  hostileInputs,
  type Json,
  jwkOf,
  onlySpiffeErrors,
  otherTd,
  publicKey,
  td,
  throwsWith,
} from './fixtures.js';

const parse = (text: string | Uint8Array): JwtBundle => JwtBundle.parse(td, text);
const rejects = (text: string, message: RegExp): void => {
  throwsWith(() => parse(text), InvalidBundleError, message);
};
/** A plain JWKS entry (no `use`), as go-spiffe and most JWKS publishers write it. */
const entry = (kid: string, key: KeyObject = publicKey(), extra: Json = {}): Json => ({
  ...jwkOf(key),
  kid,
  ...extra,
});

describe('JwtBundle.parse', () => {
  it('reads a JWKS with EC, RSA and Ed25519 keys', () => {
    const bundle = parse(
      doc([
        entry('ec', publicKey('ec-p256')),
        entry('rsa', publicKey('rsa-2048')),
        entry('ed', publicKey('ed25519')),
      ]),
    );
    assert.deepEqual([...bundle.jwtAuthorities.keys()], ['ec', 'rsa', 'ed']);
    assert.ok(bundle.findAuthority('rsa')?.equals(publicKey('rsa-2048')));
    assert.equal(bundle.findAuthority('missing'), undefined);
  });

  it('accepts "keys": [] (positive control) and bytes', () => {
    assert.ok(parse('{"keys":[]}').isEmpty());
    assert.ok(parse(new TextEncoder().encode(doc([entry('k')]))).hasAuthority('k'));
  });

  it('takes keys with "use": "jwt-svid" and skips keys of another use or an unknown kty', () => {
    const bundle = parse(
      doc([
        entry('a', publicKey(), { use: 'jwt-svid' }),
        entry('b', publicKey(), { use: 'x509-svid' }),
        entry('c', publicKey(), { use: 'enc' }),
        { kty: 'oct', kid: 'd', k: 'c2VjcmV0' },
      ]),
    );
    assert.deepEqual([...bundle.jwtAuthorities.keys()], ['a']);
  });

  for (const [name, text, message] of [
    ['invalid JSON', '{"keys":', /invalid JSON/],
    ['a document that is not an object', '[]', /expected a JWKS object with a "keys" array/],
    ['a missing "keys"', '{}', /expected a JWKS object with a "keys" array/],
    ['"keys": null', '{"keys":null}', /"keys" array/],
    ['an entry that is not an object', '{"keys":["k"]}', /key 0: not a JSON object/],
    ['a duplicate member name', '{"keys":[],"keys":[]}', /duplicate member name "keys"/],
  ] as const) {
    it(`rejects ${name}`, () => {
      rejects(text, message);
    });
  }

  it('rejects a key without kid, with an empty kid or a duplicate kid, naming the entry', () => {
    rejects(
      doc([entry('a'), { ...jwkOf(publicKey()) }]),
      /key 1: a JWT authority needs a non-empty string "kid"/,
    );
    rejects(doc([entry('')]), /key 0: a JWT authority needs a non-empty string "kid"/);
    rejects(doc([entry('a'), entry('a', publicKey('ec-p384'))]), /key 1: duplicate "kid" "a"/);
    assert.equal(parse(doc([entry('a'), entry('b')])).jwtAuthorities.size, 2);
  });

  it('rejects a key with private key material', () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const privateJwk = { ...privateKey.export({ format: 'jwk' }), kid: 'k' };
    rejects(doc([privateJwk]), /private key material \("d"\)/);
  });

  it('rejects a malformed key of a known type', () => {
    rejects(doc([entry('k', publicKey(), { x: 'AAAA' })]), /coordinates must be 32 bytes/);
    rejects(doc([entry('k', publicKey(), { crv: 'P-192' })]), /unsupported EC curve "P-192"/);
  });

  it('throws nothing but SpiffeError subclasses on hostile input (property)', () => {
    fc.assert(
      fc.property(hostileInputs, (input) => {
        onlySpiffeErrors(() => parse(input));
      }),
      { numRuns: 500 },
    );
  });
});

describe('JwtBundle.marshal', () => {
  it('writes a plain JWKS sorted by kid and reads it back', () => {
    const bundle = JwtBundle.fromAuthorities(
      td,
      new Map([
        ['z', publicKey('ed25519')],
        ['a', publicKey('rsa-2048')],
        ['m', publicKey('ec-p384')],
      ]),
    );
    const json = JSON.parse(bundle.marshal()) as { keys: Json[] };
    assert.deepEqual(
      json.keys.map((k) => [k['kid'], k['kty'], k['use']]),
      [
        ['a', 'RSA', undefined],
        ['m', 'EC', undefined],
        ['z', 'OKP', undefined],
      ],
    );
    assert.ok(parse(bundle.marshal()).equals(bundle));
  });

  it('writes an empty bundle as {"keys":[]}', () => {
    assert.equal(JwtBundle.empty(td).marshal(), '{"keys":[]}');
    assert.ok(parse(JwtBundle.empty(td).marshal()).isEmpty());
  });
});

describe('JwtBundle: construction and immutability', () => {
  it('builds from a record, a Map and another bundle’s authorities', () => {
    const fromRecord = JwtBundle.fromAuthorities(td, { a: publicKey(), b: publicKey('ec-p384') });
    const fromMap = JwtBundle.fromAuthorities(
      td,
      new Map(Object.entries({ a: publicKey(), b: publicKey('ec-p384') })),
    );
    const fromBundle = JwtBundle.fromAuthorities(td, fromRecord.jwtAuthorities);
    assert.ok(fromRecord.equals(fromMap));
    assert.ok(fromBundle.equals(fromRecord));
    assert.equal(fromBundle.jwtAuthorities.size, 2);
  });

  it('refuses private, secret and unsupported keys, and empty key IDs', () => {
    throwsWith(
      () => JwtBundle.fromAuthorities(td, { k: generateKeyPairSync('ed25519').privateKey }),
      InvalidArgumentError,
      /public key, not a private key/,
    );
    throwsWith(
      () => JwtBundle.fromAuthorities(td, { k: createSecretKey(Buffer.alloc(16)) }),
      InvalidArgumentError,
      /not a secret key/,
    );
    throwsWith(
      () =>
        JwtBundle.fromAuthorities(td, {
          k: generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey,
        }),
      InvalidArgumentError,
      /1024 bits is below the 2048-bit minimum/,
    );
    throwsWith(
      () => JwtBundle.fromAuthorities(td, { k: generateKeyPairSync('ed448').publicKey }),
      InvalidArgumentError,
      /unsupported key type ed448/,
    );
    throwsWith(
      () => JwtBundle.fromAuthorities(td, { '': publicKey() }),
      InvalidArgumentError,
      /non-empty key ID/,
    );
    throwsWith(
      () => JwtBundle.empty(td).withAuthority('', publicKey()),
      InvalidArgumentError,
      /non-empty key ID/,
    );
    assert.equal(JwtBundle.fromAuthorities(td, { k: publicKey('ed25519') }).jwtAuthorities.size, 1);
  });

  it('is frozen and its map cannot be changed, even by casting', () => {
    const bundle = JwtBundle.fromAuthorities(td, { a: publicKey() });
    assert.ok(Object.isFrozen(bundle));
    const map = bundle.jwtAuthorities as unknown as Map<string, KeyObject>;
    assert.equal(typeof map.set, 'undefined');
    assert.equal(typeof map.delete, 'undefined');
    assert.ok(Object.isFrozen(map));
    assert.deepEqual(
      [...map.entries()].map(([k]) => k),
      ['a'],
    );
    const seen: string[] = [];
    map.forEach((_v, k) => seen.push(k));
    assert.deepEqual(seen, ['a']);
    assert.deepEqual([...map.values()].length, 1);
    assert.deepEqual([...map], [['a', publicKey()]]);
  });

  it('with… methods return new bundles and leave the original unchanged', () => {
    const base = JwtBundle.fromAuthorities(td, { a: publicKey() });
    const added = base.withAuthority('b', publicKey('ec-p384'));
    const replaced = base.withAuthority('a', publicKey('ec-p384'));
    const removed = base.withoutAuthority('a');
    assert.deepEqual([...base.jwtAuthorities.keys()], ['a']);
    assert.ok(base.findAuthority('a')?.equals(publicKey()));
    assert.deepEqual([...added.jwtAuthorities.keys()], ['a', 'b']);
    assert.ok(replaced.findAuthority('a')?.equals(publicKey('ec-p384')));
    assert.ok(removed.isEmpty());
    assert.equal(base.withoutAuthority('absent'), base);
  });

  it('equals compares trust domain and keys by kid, not order', () => {
    const a = JwtBundle.fromAuthorities(td, { a: publicKey(), b: publicKey('ec-p384') });
    const b = JwtBundle.fromAuthorities(td, { b: publicKey('ec-p384'), a: publicKey() });
    assert.ok(a.equals(b));
    assert.equal(a.equals(a.withAuthority('b', publicKey())), false);
    assert.equal(a.equals(a.withoutAuthority('b')), false);
    assert.equal(a.equals(JwtBundle.fromAuthorities(otherTd, a.jwtAuthorities)), false);
  });

  it('is a JWT bundle source for its own trust domain only', () => {
    const bundle = JwtBundle.empty(td);
    assert.equal(bundle.getJwtBundleForTrustDomain(td), bundle);
    assert.throws(() => bundle.getJwtBundleForTrustDomain(otherTd), BundleNotFoundError);
  });
});

describe('JwtBundle.load', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'jwt-bundle-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads a JWKS file', async () => {
    const path = join(dir, 'jwks.json');
    await writeFile(path, doc([entry('k')]));
    assert.ok((await JwtBundle.load(td, path)).hasAuthority('k'));
  });

  it('names the file for bad content, refuses oversize files, passes fs errors through', async () => {
    const bad = join(dir, 'bad.json');
    await writeFile(bad, '{"keys":[{"kty":"EC"}]}');
    await assert.rejects(JwtBundle.load(td, bad), (err: unknown) => {
      assert.ok(err instanceof InvalidBundleError);
      assert.match(err.message, /\(file .*bad\.json\)$/);
      return true;
    });
    const huge = join(dir, 'huge.json');
    await writeFile(huge, '');
    await truncate(huge, MAX_BUNDLE_DOCUMENT_SIZE + 1);
    await assert.rejects(JwtBundle.load(td, huge), /limit is 8388608/);
    await assert.rejects(JwtBundle.load(td, join(dir, 'nope.json')), { code: 'ENOENT' });
  });
});
