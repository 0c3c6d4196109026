import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rtnGpu } from '../../../src/lib/gpu/quant';
import { quantizeRtn } from '../../../src/lib/compress/reference/quantizer';
import { matrix } from '../../../src/lib/compress/reference/types';
import { requestDevice } from '../../../src/lib/gpu/device';
import { divisionCheckOf, divisionPairs, divisionReference, quotientsOn, refinedQuotient } from '../../../src/lib/gpu/division';
import { setDeviceOverrides } from '../../../src/lib/gpu/kernel';
import { normals } from '../../unit/compress/fixtures';

/**
 * quantizer.wgsl's `quot` against its TypeScript twin, plain and refined. SwiftShader divides
 * exactly, so here both must give the IEEE quotient; the unit test gives the twin approximate
 * divisions to mend.
 */
let device: GPUDevice;
beforeAll(async () => {
  device = await requestDevice();
});
afterAll(() => device?.destroy());

function mismatches(got: Float32Array, want: Float32Array): number {
  let n = 0;
  for (let i = 0; i < want.length; i++) if (!Object.is(got[i], want[i])) n++;
  return n;
}

describe('quantizer division on the device', () => {
  const ab = divisionPairs();
  const want = divisionReference(ab);

  it('requestDevice checked the division: exact here, so the quantizer divides plainly', () => {
    expect(divisionCheckOf(device)).toEqual({ pairs: want.length, plainMismatches: 0, refinedMismatches: 0, refine: false });
  });

  it('the refined quot equals its TypeScript twin and the IEEE quotient, ties included', async () => {
    const twin = new Float32Array(want.length);
    for (let i = 0; i < twin.length; i++) twin[i] = refinedQuotient(ab[2 * i], ab[2 * i + 1], (a, b) => Math.fround(a / b));
    expect(mismatches(twin, want)).toBe(0);
    try {
      expect(mismatches(await quotientsOn(device, ab, true), want)).toBe(0);
      expect(mismatches(await quotientsOn(device, ab, false), want)).toBe(0);
    } finally {
      setDeviceOverrides(device, { REFINE_DIVISION: 0 });
    }
  });

  it('the refined quot mends a first quotient up to 3 ULPs off (an adapter dividing approximately, played here)', async () => {
    try {
      for (const skew of [-3, -1, 1, 2, 3]) {
        setDeviceOverrides(device, { REFINE_DIVISION_SKEW: skew });
        expect(mismatches(await quotientsOn(device, ab, true), want), `skew ${skew}`).toBe(0);
      }
    } finally {
      setDeviceOverrides(device, { REFINE_DIVISION: 0, REFINE_DIVISION_SKEW: 0 });
    }
  });

  it('RTN with the refined quotient is bit for bit the reference quantizer (GPTQ and AWQ grids, symmetric and asymmetric, 3/4/8 bits)', async () => {
    const W = matrix(96, 384, normals(96 * 384, 21, 0.05));
    try {
      setDeviceOverrides(device, { REFINE_DIVISION: 1 });
      for (const variant of ['gptq', 'awq'] as const)
        for (const bits of [3, 4, 8])
          for (const sym of [true, false]) {
            const cfg = { bits, groupSize: 128, sym, variant };
            const got = await rtnGpu(device, W, cfg);
            expect(mismatches(got.weight.data, quantizeRtn(W, cfg).weight.data), `${variant} ${bits}-bit sym=${sym}`).toBe(0);
          }
    } finally {
      setDeviceOverrides(device, { REFINE_DIVISION: 0 });
    }
  });
});
