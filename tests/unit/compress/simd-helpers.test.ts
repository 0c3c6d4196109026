import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { awqConfig, awqLinearLoss, awqScaledFakeQuant, awqScalesForRatio } from '../../../src/lib/compress/reference/awq';
import { linearF32, linearF32Sums } from '../../../src/lib/compress/reference/block';
import { subtractEachInOrder, subtractSumInOrder } from '../../../src/lib/compress/reference/blocked';
import { matrix } from '../../../src/lib/compress/reference/types';
import {
  simdHelperJobs,
  simdHelperStates,
  simdPool,
  startSimdHelpers,
  startWebSimdHelpers,
  stopSimdHelpers,
  type HelperHandle,
} from '../../../src/lib/compress/reference/simd-helpers';
import { setCpuSimd } from '../../../src/lib/compress/reference/simd';
import { nodeHelperSpawn, startNodeSimdHelpers } from '../../../src/node/cpu-helpers';
import { normals } from './fixtures';

function bits(a: Float32Array): number[] {
  return Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));
}

describe('SIMD linear kernels with helper threads', () => {
  let started = 0;
  beforeAll(async () => {
    started = await startNodeSimdHelpers(3);
  });
  afterAll(() => {
    stopSimdHelpers();
    setCpuSimd(true);
  });

  it('starts helper threads in Node (two, for three cores)', () => {
    expect(started).toBe(2);
    expect(simdPool()?.helpers).toBe(2);
  });

  // Token counts that split unevenly (a short last share, shares not a multiple of the 4-token tile at the end).
  it.each([
    [256, 96, 130],
    [77, 96, 200],
    [21, 200, 257],
  ])('shares %i tokens × %i inputs → %i outputs and gives the single thread’s bits', (S, inF, outF) => {
    const x = normals(S * inF, S);
    const w = normals(outF * inF, inF, 0.1);
    const before = simdHelperJobs();
    const shared32 = linearF32Sums(x, w, S, inF, outF);
    const shared64 = linearF32(x, w, S, inF, outF);
    const after = simdHelperJobs();
    // Both helpers took a share of both calls.
    expect(after.map((n, i) => n - before[i])).toEqual([2, 2]);
    setCpuSimd(false);
    const loops32 = linearF32Sums(x, w, S, inF, outF);
    const loops64 = linearF32(x, w, S, inF, outF);
    setCpuSimd(true);
    expect(bits(shared32)).toEqual(bits(loops32));
    expect(bits(shared64)).toEqual(bits(loops64));
  });

  it('starts none for a page that is not cross-origin isolated (no shared memory there)', async () => {
    expect(await startWebSimdHelpers({ crossOriginIsolated: false, navigator: { hardwareConcurrency: 8 } })).toBe(0);
  });

  it('shares AWQ’s candidate (rows) and its loss (tokens) and gives the single thread’s bits', () => {
    const [T, outF, inF] = [40, 300, 256];
    const cfg = awqConfig(4, 64, true);
    const X = matrix(T, inF, normals(T * inF, 41));
    const W = matrix(outF, inF, normals(outF * inF, 42, 0.2));
    const s = awqScalesForRatio(
      Float32Array.from({ length: inF }, (_, j) => 0.2 + (j % 13) / 9),
      0.45,
    )!;
    const target = linearF32Sums(X.data, W.data, T, inF, outF);
    const before = simdHelperJobs();
    const q = awqScaledFakeQuant(W, s, cfg).data;
    const loss = awqLinearLoss(X, W, s, cfg, target, 20);
    // The candidate's rows, then the loss's candidate rows and its product's tokens: three jobs per helper.
    expect(simdHelperJobs().map((n, i) => n - before[i])).toEqual([3, 3]);
    setCpuSimd(false);
    expect(bits(q)).toEqual(bits(awqScaledFakeQuant(W, s, cfg).data));
    expect(loss).toBe(awqLinearLoss(X, W, s, cfg, target, 20));
    setCpuSimd(true);
  });

  it.each([
    ['subtractSumInOrder', subtractSumInOrder],
    ['subtractEachInOrder', subtractEachInOrder],
  ] as const)('shares %s’s rows (GPTQ and SparseGPT’s lazy updates) and gives the single thread’s bits', (_, update) => {
    // 90 rows: shares of 32, 32 and 26; strided views as the solver passes them.
    const [rows, width, K] = [90, 150, 96];
    const [lda, ldb, ldc] = [K + 3, width + 5, width + 2];
    const A = normals(2 + rows * lda, 51);
    const B = normals(1 + K * ldb, 52);
    const C = normals(4 + rows * ldc, 53);
    const loops = C.slice();
    const before = simdHelperJobs();
    update(rows, width, K, A, 2, lda, B, 1, ldb, C, 4, ldc);
    expect(simdHelperJobs().map((n, i) => n - before[i])).toEqual([1, 1]);
    setCpuSimd(false);
    update(rows, width, K, A, 2, lda, B, 1, ldb, loops, 4, ldc);
    setCpuSimd(true);
    expect(bits(C)).toEqual(bits(loops));
    expect(bits(C)).not.toEqual(bits(normals(4 + rows * ldc, 53)));
  });
});

describe('a helper thread that goes away', () => {
  afterAll(() => {
    stopSimdHelpers();
    setCpuSimd(true);
  });

  it('is noticed: the caller runs its share, gives the same bits and goes on alone', async () => {
    const handles: HelperHandle[] = [];
    const started = await startSimdHelpers(1, async (code, init) => {
      const h = await nodeHelperSpawn(code, init);
      handles.push(h);
      return h;
    });
    expect(started).toBe(1);
    handles[0].terminate();
    for (let i = 0; i < 200 && simdHelperStates()[0] !== 'lost'; i++) await new Promise((r) => setTimeout(r, 10));
    expect(simdHelperStates()).toEqual(['lost']);
    const [S, inF, outF] = [64, 128, 160];
    const x = normals(S * inF, 61);
    const w = normals(outF * inF, 62, 0.1);
    const shared = linearF32Sums(x, w, S, inF, outF);
    expect(simdPool()).toBeNull();
    setCpuSimd(false);
    expect(bits(shared)).toEqual(bits(linearF32Sums(x, w, S, inF, outF)));
  });
});
