import { describe, expect, it } from 'vitest';
import { QuantityError, formatBytes, formatCpu, parseBytes, parseCpu } from '../../shared/api/quantity.js';

describe('quantities', () => {
  it.each([
    ['100m', 100],
    ['0.1', 100],
    ['1', 1000],
    ['2.5', 2500],
    [1, 1000],
    ['1500m', 1500],
    ['0.0001', 1],
    ['1e-3', 1],
  ])('cpu %s is %i millicores', (q, m) => expect(parseCpu(q)).toBe(m));

  it.each([
    ['128Mi', 128 * 2 ** 20],
    ['1Gi', 2 ** 30],
    ['1G', 1e9],
    ['500M', 5e8],
    ['2k', 2000],
    ['1e3', 1000],
    ['110', 110],
    ['1.5Gi', 1.5 * 2 ** 30],
    ['64Ki', 65536],
  ])('bytes %s is %i', (q, b) => expect(parseBytes(q)).toBe(b));

  it.each(['abc', '1.2.3', '10 Mi', '', 'Mi', '1Zi'])('refuses %j', (q) => expect(() => parseBytes(q)).toThrow(QuantityError));

  it('formats back', () => {
    expect(formatCpu(1500)).toBe('1500m');
    expect(formatCpu(2000)).toBe('2');
    expect(formatBytes(2 ** 30)).toBe('1Gi');
    expect(formatBytes(1000)).toBe('1000');
  });
});
