// The SMS payload check's number validity (patterns compiled once per numbering plan) gives the
// same answer as libphonenumber-js's own isValid() for numbers of every calling code and country:
// real-shaped ones (the library's example numbers), their neighbours, and random digits of every
// plausible length.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getCountries, getCountryCallingCode, getExampleNumber, parsePhoneNumberFromString, type CountryCode } from 'libphonenumber-js/max';
import examples from 'libphonenumber-js/mobile/examples';
import { isValidNumber } from '../../src/channels/sms/phone-valid.js';
import { parseRecipientNumber, parseSmsPayload } from '../../src/channels/sms/payload.js';

// A fixed-seed generator: a failure names a number that can be replayed.
function rng(seed: number) {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 0x100000000);
}

test('isValidNumber agrees with isValid() on example, neighbouring and random numbers of every country', () => {
  const rand = rng(20261123);
  let valid = 0;
  let invalid = 0;
  const check = (text: string, cc?: string) => {
    const n = cc ? parsePhoneNumberFromString(text, { defaultCallingCode: cc }) : parsePhoneNumberFromString(text);
    if (!n) return;
    const want = n.isValid();
    assert.equal(isValidNumber(n), want, `${text}${cc ? ` (+${cc})` : ''}: isValid() says ${want}`);
    if (want) valid++;
    else invalid++;
  };
  for (const country of getCountries()) {
    const cc = getCountryCallingCode(country as CountryCode);
    const ex = getExampleNumber(country as CountryCode, examples as never);
    if (ex) {
      const nat = ex.nationalNumber;
      check(`+${cc}${nat}`);
      check(nat, cc);
      // Change one digit, drop the last, add one: near misses of a valid shape.
      for (let k = 0; k < 6; k++) {
        const i = Math.floor(rand() * nat.length);
        check(`+${cc}${nat.slice(0, i)}${Math.floor(rand() * 10)}${nat.slice(i + 1)}`);
      }
      check(`+${cc}${nat.slice(0, -1)}`);
      check(`+${cc}${nat}7`);
    }
    for (let k = 0; k < 12; k++) {
      const len = 4 + Math.floor(rand() * 11);
      let digits = '';
      for (let d = 0; d < len; d++) digits += Math.floor(rand() * 10);
      check(`+${cc}${digits}`);
      check(digits, cc);
    }
  }
  // Non-geographic calling codes (international freephone, shared cost, ...).
  for (const text of ['+80012345678', '+80074747474', '+87012345678', '+88213456789', '+979123456789']) check(text);
  // The comparison means something only if both answers occur often.
  assert.ok(valid > 200, `valid numbers checked: ${valid}`);
  assert.ok(invalid > 1000, `invalid numbers checked: ${invalid}`);
});

test('parseRecipientNumber (national digits and +digits read without the generic parse) answers as parsePhoneNumberFromString for every calling code', () => {
  const rand = rng(20261202);
  const view = (n: ReturnType<typeof parsePhoneNumberFromString>) => n && {
    number: n.number, country: n.country, callingCode: n.countryCallingCode, national: n.nationalNumber, carrier: n.carrierCode, ext: n.ext,
    source: (n as unknown as { __countryCallingCodeSource?: string }).__countryCallingCodeSource, keys: Object.keys(n).sort(), valid: n.isValid(), type: n.getType(),
  };
  // What the payload check reads of a number (parseRecipientNumber): its fields, and its validity as isValid() says.
  const fields = (n: ReturnType<typeof parseRecipientNumber>) => n && {
    number: n.number, country: n.country, callingCode: n.countryCallingCode, national: n.nationalNumber, valid: isValidNumber(n),
  };
  const expected = (w: ReturnType<typeof view>) => w && { number: w.number, country: w.country, callingCode: w.callingCode, national: w.national, valid: w.valid };
  const codes = new Set(getCountries().map((c) => getCountryCallingCode(c as CountryCode) as string));
  for (const nonGeo of ['800', '808', '870', '878', '881', '882', '883', '888', '979']) codes.add(nonGeo);
  let parsed = 0;
  for (const cc of codes) {
    for (let k = 0; k < 60; k++) {
      const len = 1 + Math.floor(rand() * 18);
      let digits = '';
      for (let d = 0; d < len; d++) digits += Math.floor(rand() * 10);
      // Plain digits, behind a national prefix, behind the calling code, behind an IDD-like 00.
      for (const text of [digits, `0${digits}`, `${cc}${digits}`, `00${digits}`, `1${digits}`]) {
        const want = view(parsePhoneNumberFromString(text, { defaultCallingCode: cc }));
        assert.deepEqual(fields(parseRecipientNumber(text, cc)), expected(want), `${text} with +${cc} (recipient)`);
        if (want) parsed++;
      }
      // The native form: + and digits, with this calling code or none in particular.
      for (const text of [`+${cc}${digits}`, `+${cc}0${digits}`, `+${digits}`, `+0${digits}`]) {
        const want = view(parsePhoneNumberFromString(text));
        assert.deepEqual(fields(parseRecipientNumber(text)), expected(want), `${text} (recipient)`);
        if (want) parsed++;
      }
    }
  }
  assert.ok(parsed > 40_000, `numbers the library parses: ${parsed}`);
  // The shape of the original worker's payloads: an Indian mobile with countryCode 91.
  assert.deepEqual(fields(parseRecipientNumber('9876543210', '91')), expected(view(parsePhoneNumberFromString('9876543210', { defaultCallingCode: '91' }))));
  assert.equal(parseRecipientNumber('9876543210', '91')?.number, '+919876543210');
  assert.deepEqual(fields(parseRecipientNumber('+919876543210')), expected(view(parsePhoneNumberFromString('+919876543210'))));
});

test('the sms payload check still refuses numbers that cannot exist and accepts real ones', () => {
  assert.equal(parseSmsPayload({ contact: '9876543210', countryCode: 91, message: 'hi' }).message.to, '+919876543210');
  assert.equal(parseSmsPayload({ to: '+14155550123', text: 'hi' }).message.callingCode, '1');
  assert.throws(() => parseSmsPayload({ contact: '12345', countryCode: 91, message: 'hi' }), /not a valid phone number/);
  assert.throws(() => parseSmsPayload({ to: '+999123456789', text: 'hi' }), /not a valid phone number/);
});
