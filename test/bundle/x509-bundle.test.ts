import assert from 'node:assert/strict';
import type { X509Certificate } from 'node:crypto';
import { mkdtemp, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import {
  BundleNotFoundError,
  InvalidBundleError,
  MAX_BUNDLE_DOCUMENT_SIZE,
  X509Bundle,
} from '../../src/bundle/index.js';
import {
  caCertificate,
  hostileInputs,
  onlySpiffeErrors,
  otherTd,
  td,
  throwsWith,
} from './fixtures.js';

let a: X509Certificate;
let b: X509Certificate;

before(async () => {
  [a, b] = await Promise.all([caCertificate('ec-p256'), caCertificate('ec-p384')]);
});

const fingerprints = (bundle: X509Bundle): string[] =>
  bundle.x509Authorities.map((c) => c.fingerprint256);

describe('X509Bundle.parse (PEM)', () => {
  it('reads CERTIFICATE blocks, ignoring other blocks and text around them', () => {
    const pem = `leading text\n${a.toString()}between\n-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n${b.toString()}trailing`;
    const bundle = X509Bundle.parse(td, pem);
    assert.deepEqual(fingerprints(bundle), [a.fingerprint256, b.fingerprint256]);
    assert.deepEqual(fingerprints(X509Bundle.parse(td, Buffer.from(pem))), fingerprints(bundle));
  });

  it('gives an empty bundle for empty input', () => {
    assert.ok(X509Bundle.parse(td, '').isEmpty());
    assert.ok(X509Bundle.parse(td, new Uint8Array()).isEmpty());
  });

  it('gives an empty bundle for PEM without certificates (as go-spiffe)', () => {
    assert.ok(
      X509Bundle.parse(
        td,
        '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n',
      ).isEmpty(),
    );
  });

  it('rejects text without PEM blocks', () => {
    throwsWith(
      () => X509Bundle.parse(td, 'Not PEM encoded file'),
      InvalidBundleError,
      /for trust domain "example.org": no PEM blocks found/,
    );
  });

  it('rejects a block that is not base64', () => {
    throwsWith(
      () => X509Bundle.parse(td, '-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n'),
      InvalidBundleError,
      /is not base64/,
    );
  });

  it('rejects a block without END line', () => {
    throwsWith(
      () => X509Bundle.parse(td, '-----BEGIN CERTIFICATE-----\nAAAA\n'),
      InvalidBundleError,
      /no END line/,
    );
  });

  it('rejects a certificate block with a corrupted body', () => {
    const body = Buffer.from('CORRUPT').toString('base64');
    throwsWith(
      () =>
        X509Bundle.parse(td, `-----BEGIN CERTIFICATE-----\n${body}\n-----END CERTIFICATE-----\n`),
      InvalidBundleError,
      /malformed certificate/,
    );
  });
});

describe('X509Bundle.parseRaw (DER)', () => {
  it('reads concatenated DER certificates', () => {
    assert.deepEqual(fingerprints(X509Bundle.parseRaw(td, Buffer.concat([a.raw, b.raw]))), [
      a.fingerprint256,
      b.fingerprint256,
    ]);
  });

  it('gives an empty bundle for empty input', () => {
    assert.ok(X509Bundle.parseRaw(td, new Uint8Array()).isEmpty());
  });

  it('wraps the plain errors asn1js throws on hostile DER (a GeneralizedTime that does not convert)', () => {
    throwsWith(
      () => X509Bundle.parseRaw(td, Uint8Array.from([0x18, 0x03, 0x41, 0x42, 0x43])),
      InvalidBundleError,
      /cannot parse X\.509 bundle .*malformed DER/,
    );
  });

  it('rejects bytes that are not DER, and DER that is not a certificate', () => {
    throwsWith(
      () => X509Bundle.parseRaw(td, Buffer.from('not der')),
      InvalidBundleError,
      /malformed DER|malformed certificate/,
    );
    throwsWith(
      () => X509Bundle.parseRaw(td, Uint8Array.from([0x05, 0x00])),
      InvalidBundleError,
      /malformed certificate/,
    );
    throwsWith(
      () => X509Bundle.parseRaw(td, a.raw.subarray(0, a.raw.length - 1)),
      InvalidBundleError,
      /cannot parse X\.509 bundle/,
    );
  });
});

describe('X509Bundle: values', () => {
  it('drops duplicate certificates, keeping first-seen order', () => {
    assert.deepEqual(fingerprints(X509Bundle.fromAuthorities(td, [b, a, b, a])), [
      b.fingerprint256,
      a.fingerprint256,
    ]);
  });

  it('marshals to PEM that parses back to an equal bundle; empty marshals to ""', () => {
    const bundle = X509Bundle.fromAuthorities(td, [a, b]);
    assert.equal(bundle.marshal(), a.toString() + b.toString());
    assert.ok(X509Bundle.parse(td, bundle.marshal()).equals(bundle));
    assert.equal(X509Bundle.empty(td).marshal(), '');
  });

  it('is frozen; with… methods return new bundles', () => {
    const bundle = X509Bundle.fromAuthorities(td, [a]);
    assert.ok(Object.isFrozen(bundle));
    assert.ok(Object.isFrozen(bundle.x509Authorities));
    const more = bundle.withAuthority(b);
    assert.deepEqual(fingerprints(bundle), [a.fingerprint256]);
    assert.deepEqual(fingerprints(more), [a.fingerprint256, b.fingerprint256]);
    assert.equal(bundle.withAuthority(a), bundle);
    const fewer = more.withoutAuthority(a);
    assert.deepEqual(fingerprints(fewer), [b.fingerprint256]);
    assert.ok(more.hasAuthority(a) && !fewer.hasAuthority(a));
  });

  it('equals needs the same trust domain and the same certificates in the same order', () => {
    const ab = X509Bundle.fromAuthorities(td, [a, b]);
    assert.ok(ab.equals(X509Bundle.fromAuthorities(td, [a, b])));
    assert.equal(ab.equals(X509Bundle.fromAuthorities(td, [b, a])), false);
    assert.equal(ab.equals(X509Bundle.fromAuthorities(td, [a])), false);
    assert.equal(ab.equals(X509Bundle.fromAuthorities(otherTd, [a, b])), false);
  });

  it('is an X.509 bundle source for its own trust domain only', () => {
    const bundle = X509Bundle.fromAuthorities(td, [a]);
    assert.equal(bundle.getX509BundleForTrustDomain(td), bundle);
    assert.throws(
      () => bundle.getX509BundleForTrustDomain(otherTd),
      (err: unknown) => {
        assert.ok(err instanceof BundleNotFoundError);
        assert.equal(err.trustDomain, 'other.org');
        return true;
      },
    );
  });
});

describe('X509Bundle.load', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'x509-bundle-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads a PEM file, names the file on bad content, passes fs errors through', async () => {
    const good = join(dir, 'good.pem');
    await writeFile(good, a.toString());
    assert.deepEqual(fingerprints(await X509Bundle.load(td, good)), [a.fingerprint256]);
    const bad = join(dir, 'bad.pem');
    await writeFile(bad, 'Not PEM');
    await assert.rejects(X509Bundle.load(td, bad), (err: unknown) => {
      assert.ok(err instanceof InvalidBundleError);
      assert.match(err.message, /no PEM blocks found \(file .*bad\.pem\)/);
      return true;
    });
    await assert.rejects(X509Bundle.load(td, join(dir, 'missing.pem')), { code: 'ENOENT' });
    const huge = join(dir, 'huge.pem');
    await writeFile(huge, '');
    await truncate(huge, MAX_BUNDLE_DOCUMENT_SIZE + 1);
    await assert.rejects(X509Bundle.load(td, huge), /limit is 8388608/);
  });
});

describe('X509Bundle: hostile input (property)', () => {
  it('parse and parseRaw throw nothing but SpiffeError subclasses', () => {
    const pemish = fc
      .array(
        fc.constantFrom(
          '-----BEGIN CERTIFICATE-----',
          '-----END CERTIFICATE-----',
          '-----BEGIN ',
          '-----',
          'MII',
          'AAAA',
          '\n',
          '=',
          'x',
        ),
        { maxLength: 20 },
      )
      .map((p) => p.join(''));
    fc.assert(
      fc.property(fc.oneof(hostileInputs, pemish), (input) => {
        onlySpiffeErrors(() => X509Bundle.parse(td, input));
        onlySpiffeErrors(() =>
          X509Bundle.parseRaw(td, typeof input === 'string' ? Buffer.from(input) : input),
        );
      }),
      { numRuns: 500 },
    );
  });

  it('parseRaw throws nothing but SpiffeError subclasses on mutated certificates', () => {
    fc.assert(
      fc.property(fc.nat(), fc.integer({ min: 0, max: 255 }), (at, value) => {
        const der = Buffer.from(a.raw);
        der[at % der.length] = value;
        onlySpiffeErrors(() => X509Bundle.parseRaw(td, der));
      }),
      { numRuns: 300 },
    );
  });
});
