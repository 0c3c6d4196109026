import { describe, expect, it } from 'vitest';
import { firstNonFinite } from '../../../src/lib/compress/engine/finite';

describe('firstNonFinite', () => {
  it('finds the first NaN or infinity, and nothing in finite data (signed zeros, the largest floats)', () => {
    const finite = Float32Array.from([0, -0, 3.4028234663852886e38, -3.4028234663852886e38, 1e-45, -1e-45, 1, -2.5]);
    expect(firstNonFinite(finite)).toBe(-1);
    expect(firstNonFinite(new Float32Array(0))).toBe(-1);
    for (const bad of [NaN, Infinity, -Infinity]) {
      for (const at of [0, 3, 7]) {
        const a = finite.slice();
        a[at] = bad;
        if (at < 7) a[7] = NaN; // a later one does not hide the first
        expect(firstNonFinite(a), `${bad} at ${at}`).toBe(at);
      }
    }
    expect(firstNonFinite([1, 2, Infinity])).toBe(2);
  });
});
