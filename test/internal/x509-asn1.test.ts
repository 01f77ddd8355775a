import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ObjectIdentifier } from 'asn1js';
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
