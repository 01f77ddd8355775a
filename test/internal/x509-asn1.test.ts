import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ObjectIdentifier } from 'asn1js';
import { DecodeError, splitDer } from '../../src/internal/der.js';
import {
  Asn1Error,
  bitsOf,
  booleanOf,
  decodeOne,
  oidOf,
  sequenceItems,
  smallIntegerOf,
  splitDerElements,
  timeOf,
} from '../../src/internal/x509/asn1.js';

const bytes = (...b: number[]): Uint8Array => new Uint8Array(b);
const ascii = (tag: number, text: string): Uint8Array =>
  new Uint8Array([tag, text.length, ...Buffer.from(text, 'latin1')]);

describe('DER reader', () => {
  it('reads nested structures and rejects what is not DER', () => {
    const seq = decodeOne(bytes(0x30, 0x06, 0x02, 0x01, 0x05, 0x01, 0x01, 0xff), 'x');
    const [int, bool] = sequenceItems(seq, 'x');
    assert.equal(smallIntegerOf(int, 'x'), 5);
    assert.equal(booleanOf(bool, 'x'), true);
    const bad: [string, Uint8Array][] = [
      ['indefinite length', bytes(0x30, 0x80, 0x00, 0x00)],
      ['non-minimal length', bytes(0x04, 0x81, 0x01, 0x00)],
      ['leading zero length', bytes(0x04, 0x82, 0x00, 0x81, ...new Array<number>(0x81).fill(0))],
      ['trailing bytes', bytes(0x05, 0x00, 0x00)],
      ['truncated', bytes(0x04, 0x05, 0x00)],
      ['high tag number', bytes(0x1f, 0x81, 0x00, 0x00)],
      ['empty input', bytes()],
    ];
    for (const [name, input] of bad) {
      assert.throws(() => decodeOne(input, 'x'), Asn1Error, name);
    }
    // A child that overruns its parent.
    assert.throws(
      () => sequenceItems(decodeOne(bytes(0x30, 0x02, 0x04, 0x05), 'x'), 'x'),
      Asn1Error,
    );
  });

  it('applies the DER checks to nested elements, not only the outer one', () => {
    // Positive controls: the same shapes, DER-encoded.
    assert.equal(sequenceItems(decodeOne(bytes(0x30, 0x02, 0x30, 0x00), 'x'), 'x').length, 1);
    assert.equal(sequenceItems(decodeOne(bytes(0x30, 0x03, 0x04, 0x01, 0x00), 'x'), 'x').length, 1);
    assert.equal(
      sequenceItems(decodeOne(bytes(0x30, 0x05, 0x0c, 0x03, 0x41, 0x42, 0x43), 'x'), 'x').length,
      1,
    );
    const bad: [RegExp, Uint8Array][] = [
      [/indefinite length/, bytes(0x30, 0x80, 0x00, 0x00)],
      [/indefinite length/, bytes(0x30, 0x04, 0x30, 0x80, 0x00, 0x00)],
      [/non-minimal length/, bytes(0x30, 0x04, 0x04, 0x81, 0x01, 0x00)],
      // asn1js reads the high-tag-number form, also for tags that fit the low form.
      [/high-tag-number/, bytes(0x9f, 0x1f, 0x00)],
      [/high-tag-number/, bytes(0x30, 0x03, 0x9f, 0x1f, 0x00)],
      [/high-tag-number/, bytes(0x1f, 0x05, 0x00)],
      [/constructed encoding/, bytes(0x30, 0x05, 0x2c, 0x03, 0x04, 0x01, 0x41)],
    ];
    for (const [message, input] of bad) {
      assert.throws(
        () => decodeOne(input, 'x'),
        (err: unknown) => err instanceof Asn1Error && message.test(err.message),
        Buffer.from(input).toString('hex'),
      );
    }
  });

  it('turns the plain errors asn1js throws into Asn1Error', () => {
    // asn1js throws a plain Error for a GeneralizedTime it cannot convert.
    const hostile = bytes(0x18, 0x03, 0x41, 0x42, 0x43);
    assert.throws(() => decodeOne(hostile, 'x'), Asn1Error);
    assert.throws(() => decodeOne(bytes(0x30, 0x05, ...hostile), 'x'), Asn1Error);
    assert.throws(() => splitDerElements(bytes(0x05, 0x00, ...hostile), 'x'), Asn1Error);
    assert.equal(
      timeOf(decodeOne(ascii(0x18, '20500101123456Z'), 'x'), 'x'),
      Date.UTC(2050, 0, 1, 12, 34, 56),
    );
  });

  it('splitDer gives DecodeError, never a plain error, for what is not DER', () => {
    assert.deepEqual(
      splitDer(bytes(0x05, 0x00, 0x04, 0x01, 0x07)).map((p) => [...p]),
      [
        [0x05, 0x00],
        [0x04, 0x01, 0x07],
      ],
    );
    assert.deepEqual(splitDer(bytes()), []);
    for (const input of [
      bytes(0x18, 0x03, 0x41, 0x42, 0x43),
      bytes(0x05, 0x00, 0x30, 0x80, 0x00, 0x00),
      bytes(0x05, 0x00, 0x04),
      bytes(0x04, 0x81, 0x01, 0x00),
    ]) {
      assert.throws(() => splitDer(input), DecodeError, Buffer.from(input).toString('hex'));
      assert.throws(() => splitDer(input), /malformed DER at byte \d+: /);
    }
  });

  it('decodes OIDs, including large first arcs, and rejects non-minimal ones', () => {
    for (const oid of [
      '2.5.29.17',
      '1.2.840.113549.1.1.11',
      '2.999.3',
      '0.9.2342.19200300.100.1.1',
    ]) {
      const der = new Uint8Array(new ObjectIdentifier({ value: oid }).toBER());
      assert.equal(oidOf(decodeOne(der, 'x'), 'x'), oid);
    }
    assert.throws(() => oidOf(decodeOne(bytes(0x06, 0x02, 0x80, 0x01), 'x'), 'x'), Asn1Error);
    assert.throws(() => oidOf(decodeOne(bytes(0x06, 0x01, 0x81), 'x'), 'x'), Asn1Error);
    assert.throws(() => oidOf(decodeOne(bytes(0x06, 0x00), 'x'), 'x'), Asn1Error);
    // A zero arc is one 0x00 octet, which is minimal (asn1js warns about it all the same).
    assert.equal(oidOf(decodeOne(bytes(0x06, 0x03, 0x2a, 0x00, 0x05), 'x'), 'x'), '1.2.0.5');
    assert.throws(() => oidOf(decodeOne(bytes(0x06, 0x03, 0x2a, 0x80, 0x05), 'x'), 'x'), Asn1Error);
    // An arc beyond 2^53 - 1.
    const big = bytes(0x06, 0x09, 0x2a, 0x90, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00);
    assert.throws(() => oidOf(decodeOne(big, 'x'), 'x'), Asn1Error);
  });

  it('reads BOOLEAN, INTEGER and BIT STRING strictly', () => {
    assert.equal(booleanOf(decodeOne(bytes(0x01, 0x01, 0x00), 'x'), 'x'), false);
    assert.throws(() => booleanOf(decodeOne(bytes(0x01, 0x01, 0x01), 'x'), 'x'), Asn1Error);
    assert.equal(smallIntegerOf(decodeOne(bytes(0x02, 0x02, 0x00, 0x80), 'x'), 'x'), 128);
    assert.throws(
      () => smallIntegerOf(decodeOne(bytes(0x02, 0x02, 0x00, 0x05), 'x'), 'x'),
      Asn1Error,
    );
    assert.throws(() => smallIntegerOf(decodeOne(bytes(0x02, 0x01, 0xff), 'x'), 'x'), Asn1Error);
    // Four and five octets (asn1js keeps those as hex only, without a minimality check).
    const int = (...b: number[]): number =>
      smallIntegerOf(decodeOne(bytes(0x02, b.length, ...b), 'x'), 'x');
    assert.equal(int(0x7f, 0xff, 0xff, 0xff), 0x7fffffff);
    assert.equal(int(0x00, 0x80, 0x00, 0x00), 0x800000);
    assert.throws(() => int(0x00, 0x80, 0x00, 0x00, 0x00), Asn1Error);
    assert.throws(() => int(0x00, 0x00, 0xff, 0xff, 0xff), Asn1Error);
    assert.throws(() => booleanOf(decodeOne(bytes(0x01, 0x02, 0x00, 0xff), 'x'), 'x'), Asn1Error);
    assert.deepEqual(bitsOf(decodeOne(bytes(0x03, 0x02, 0x05, 0xa0), 'x'), 'x'), [
      true,
      false,
      true,
    ]);
    assert.deepEqual(bitsOf(decodeOne(bytes(0x03, 0x01, 0x00), 'x'), 'x'), []);
    assert.throws(() => bitsOf(decodeOne(bytes(0x03, 0x01, 0x01), 'x'), 'x'), Asn1Error);
    assert.throws(() => bitsOf(decodeOne(bytes(0x03, 0x02, 0x08, 0x00), 'x'), 'x'), Asn1Error);
  });

  it('reads the RFC 5280 time forms and nothing else', () => {
    const at = (tag: number, text: string): number => timeOf(decodeOne(ascii(tag, text), 'x'), 'x');
    assert.equal(at(0x17, '490101000000Z'), Date.UTC(2049, 0, 1));
    assert.equal(at(0x17, '500101000000Z'), Date.UTC(1950, 0, 1));
    assert.equal(at(0x18, '20500101123456Z'), Date.UTC(2050, 0, 1, 12, 34, 56));
    for (const [tag, text] of [
      [0x17, '4901010000Z'],
      [0x17, '490101000000+0100'],
      [0x18, '20500101123456.5Z'],
      [0x18, '20500101123456+0100'],
      [0x17, 'x490101000000Z'],
      [0x17, '490101000000Zx'],
      [0x18, '20500230000000Z'],
      [0x18, '20501301000000Z'],
      [0x04, '20500101123456Z'],
    ] as const) {
      assert.throws(() => at(tag, text), Asn1Error, text);
    }
  });

  it('splits concatenated elements', () => {
    const parts = splitDerElements(bytes(0x05, 0x00, 0x04, 0x01, 0x07), 'x');
    assert.deepEqual(
      parts.map((p) => [...p]),
      [
        [0x05, 0x00],
        [0x04, 0x01, 0x07],
      ],
    );
    assert.deepEqual(splitDerElements(bytes(), 'x'), []);
    assert.throws(() => splitDerElements(bytes(0x05, 0x00, 0x04), 'x'), Asn1Error);
  });
});
