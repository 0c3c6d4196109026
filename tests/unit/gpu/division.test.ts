import { describe, expect, it } from 'vitest';
import { divisionPairs, divisionReference, refinedQuotient } from '../../../src/lib/gpu/division';
import { seededRandom } from '../../../src/lib/util/rng';

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The IEEE quotient moved by up to `ulps` units in the last place, as an approximate GPU division may. */
function sloppyDivide(ulps: number, seed: number): (a: number, b: number) => number {
  const rand = seededRandom(seed);
  return (a, b) => {
    f32[0] = a / b;
    if (f32[0] === 0) return 0;
    u32[0] += Math.floor(rand() * (2 * ulps + 1)) - ulps;
    return f32[0];
  };
}

/** Division through a rounded reciprocal, the way NVIDIA's Vulkan driver divides. */
const reciprocalDivide = (a: number, b: number) => Math.fround(a * Math.fround(1 / b));

function mismatches(divide: (a: number, b: number) => number, ab: Float32Array, want: Float32Array): number {
  let n = 0;
  for (let i = 0; i < want.length; i++) if (!Object.is(Math.fround(divide(ab[2 * i], ab[2 * i + 1])), want[i])) n++;
  return n;
}

describe('the quantizer division check', () => {
  const ab = divisionPairs();
  const want = divisionReference(ab);

  it('probes with pairs whose IEEE quotient is a rounding tie of a 3-, 4- or 8-bit symmetric grid', () => {
    const ties = [...want].filter((q) => [3.5, 7.5, 127.5].includes(Math.abs(q))).length;
    expect(ties).toBeGreaterThan(want.length / 6);
    // and mostly ordinary quotients besides
    expect(want.length - ties).toBeGreaterThan(want.length / 2);
  });

  it('an approximate division misses IEEE quotients, and the refined quotient recovers every one', () => {
    for (const divide of [reciprocalDivide, sloppyDivide(1, 1), sloppyDivide(3, 2)]) {
      expect(mismatches(divide, ab, want)).toBeGreaterThan(want.length / 20);
      expect(mismatches((a, b) => refinedQuotient(a, b, divide), ab, want)).toBe(0);
    }
  });

  it('the midpoint check alone mends a quotient one ULP off when the Newton step is lost', () => {
    const sloppy = sloppyDivide(1, 4);
    let call = 0;
    // refinedQuotient divides twice: the quotient, then the residual for the Newton step (dropped here).
    const noStep = (a: number, b: number) => (call++ % 2 === 0 ? sloppy(a, b) : 0);
    expect(mismatches((a, b) => refinedQuotient(a, b, noStep), ab, want)).toBe(0);
  });

  it('leaves an exact division exact, signs and zeros included', () => {
    const exact = (a: number, b: number) => Math.fround(a / b);
    expect(mismatches((a, b) => refinedQuotient(a, b, exact), ab, want)).toBe(0);
    expect(Object.is(refinedQuotient(-0, 3, exact), -0)).toBe(true);
    expect(Object.is(refinedQuotient(0, -3, reciprocalDivide), -0)).toBe(true);
    expect(refinedQuotient(-1, 0, exact)).toBe(-Infinity);
    expect(refinedQuotient(Math.fround(-7.5), Math.fround(1.5), reciprocalDivide)).toBe(-5);
  });
});
