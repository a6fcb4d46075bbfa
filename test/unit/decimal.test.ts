import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isValidNumber, numberIdentity, numberProblem, parseDecimal } from '../../src/core/decimal.js';

describe('parseDecimal', () => {
  it('splits sign, significant digits and exponent', () => {
    assert.deepEqual(parseDecimal('123.4500'), { sign: 1, digits: '12345', exponent: 3 });
    assert.deepEqual(parseDecimal('-0.00120'), { sign: -1, digits: '12', exponent: -2 });
    assert.deepEqual(parseDecimal('1E-130'), { sign: 1, digits: '1', exponent: -129 });
    assert.deepEqual(parseDecimal('9.9999E+125'), { sign: 1, digits: '99999', exponent: 126 });
    assert.deepEqual(parseDecimal('-0'), { sign: 0, digits: '', exponent: 0 });
    assert.deepEqual(parseDecimal('000'), { sign: 0, digits: '', exponent: 0 });
  });

  it('rejects what is not a number', () => {
    for (const text of [
      '',
      ' 1',
      '1 ',
      'abc',
      '1e',
      '--1',
      '1.2.3',
      '.',
      'Infinity',
      'NaN',
      '0x10',
      '1_000',
    ]) {
      assert.equal(parseDecimal(text), undefined, text);
    }
  });
});

describe('numberProblem', () => {
  it('accepts DynamoDB numbers, including the range limits and 38 digits', () => {
    for (const text of [
      '0',
      '-0',
      '12345678901234567890123456789012345678',
      '-12345678901234567890123456789012345678',
      '1E-130',
      '-1E-130',
      '9.9999999999999999999999999999999999999E+125',
      '-0.000000000000000000000000000000000001',
      '1000000000000000000000000000000000000000000000000',
      '1.50',
    ]) {
      assert.equal(numberProblem(text), undefined, text);
      assert.equal(isValidNumber(text), true, text);
    }
  });

  it('rejects too many digits and out-of-range magnitudes with a reason', () => {
    assert.equal(
      numberProblem('123456789012345678901234567890123456789'),
      '"123456789012345678901234567890123456789" has 39 significant digits (DynamoDB keeps at most 38)',
    );
    assert.match(numberProblem('1E126') ?? '', /^"1E126" is out of DynamoDB's range/);
    assert.match(numberProblem('1E-131') ?? '', /^"1E-131" is out of DynamoDB's range/);
    assert.match(numberProblem('1E99999999999999999999') ?? '', /out of DynamoDB's range/);
    assert.equal(numberProblem('x1'), '"x1" is not a number');
    assert.equal(isValidNumber(''), false);
  });
});

describe('numberIdentity', () => {
  it('gives one text per value', () => {
    assert.equal(numberIdentity('1.50'), numberIdentity('15E-1'));
    assert.equal(numberIdentity('-0'), '0');
    assert.notEqual(numberIdentity('1.5'), numberIdentity('-1.5'));
    assert.equal(numberIdentity('z'), undefined);
  });
});
