import { expect } from 'vitest';
import type { Matrix } from '../../../src/lib/compress/reference/types';
import { describeAdapter } from '../../../src/lib/gpu/device';
import { countDiff, maxAbs } from '../../unit/compress/fixtures';

/**
 * Tolerances of the GPU-vs-TS comparisons. The oracles emulate the kernels' fp32 operation
 * order (Math.fround per product and sum), so on SwiftShader every comparison here is
 * bit-exact (measured: 0 differences) except the Hessian / channel statistics when X is split
 * into token chunks (≤ 1e-7 relative: the running-mean rescale is applied per chunk). The
 * bounds leave room for hardware GPUs, where WGSL allows fused multiply-adds and a 2.5-ulp
 * division: that can flip a code or a mask bit sitting exactly on a rounding or selection
 * boundary, after which GPTQ/SparseGPT feed a different error forward along that row.
 */
export const STATS_REL_TOL = 1e-5;
/** Fraction of codes / mask bits allowed to differ in the GPTQ / SparseGPT loop (0 on SwiftShader). */
export let SOLVER_FLIP_FRACTION = 1e-3;
/** Weights of rows whose codes / mask bits all agree: |Δ| ≤ this × max |W_ref| (0 on SwiftShader). */
export let SOLVER_REL_TOL = 1e-5;

/**
 * On SwiftShader (what CI runs) the solver kernels reproduce the oracle bit for bit, so hold
 * them to that: an off-by-one in a threshold or a loop bound then fails loudly instead of
 * hiding inside the hardware allowance.
 */
export async function useExactSolverTolerancesOnSwiftShader(): Promise<boolean> {
  const report = await describeAdapter();
  const exact = report.architecture === 'swiftshader';
  if (exact) {
    SOLVER_FLIP_FRACTION = 0;
    SOLVER_REL_TOL = 0;
  }
  return exact;
}

/** Largest |a − b| relative to the largest |b|. */
export function relDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  const s = Math.max(1e-30, maxAbs(b));
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]) / s);
  return m;
}

export function expectStatsClose(got: Float32Array, want: Float32Array): void {
  expect(relDiff(got, want)).toBeLessThanOrEqual(STATS_REL_TOL);
}

export function expectSolverClose(gotW: Matrix, wantW: Matrix, gotCodes: Uint8Array, wantCodes: Uint8Array): void {
  const { rows, cols } = wantW;
  expect(countDiff(gotCodes, wantCodes)).toBeLessThanOrEqual(Math.floor(SOLVER_FLIP_FRACTION * rows * cols));
  const scale = Math.max(1e-30, maxAbs(wantW.data));
  let worst = 0;
  for (let r = 0; r < rows; r++) {
    const at = r * cols;
    if (countDiff(gotCodes.subarray(at, at + cols), wantCodes.subarray(at, at + cols)) > 0) continue;
    for (let j = 0; j < cols; j++) worst = Math.max(worst, Math.abs(gotW.data[at + j] - wantW.data[at + j]) / scale);
  }
  expect(worst).toBeLessThanOrEqual(SOLVER_REL_TOL);
}
