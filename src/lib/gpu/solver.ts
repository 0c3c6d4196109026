import blockWgsl from '../../../shaders/block.wgsl?raw';
import gridWgsl from '../../../shaders/grid.wgsl?raw';
import nmRankWgsl from '../../../shaders/nm-rank.wgsl?raw';
import quantizerWgsl from '../../../shaders/quantizer.wgsl?raw';
import selectWgsl from '../../../shaders/select.wgsl?raw';
import { fitRowsOnce, gptqConfig, gptqResult, type GptqOptions, type GptqResult } from '../compress/reference/gptq';
import { checkSparsity } from '../compress/reference/prune';
import { groupLayout, quantGrid, type QuantConfig } from '../compress/reference/quantizer';
import { prologue, resolveBlockSize, type Prologue } from '../compress/reference/solver';
import type { SparseGptOptions, SparseGptResult } from '../compress/reference/sparsegpt';
import { isNM, matrix, type Matrix } from '../compress/reference/types';
import { encodeGemm } from './gemm';
import { readF32, readU32, Recorder, storageBuffer, uploadF32 } from './kernel';
import { GRID_FIELDS, resolveLimits, rowChunks, type GpuTuning, type Limits } from './limits';
import { defineParams } from './params';
import { encodeQuantFit, splitParams, type QuantLaunch } from './quant';
import { scratch } from './scratch';
import { composeWgsl } from './shader';

/**
 * GPTQ and SparseGPT on the GPU. Split of work:
 * - CPU (TypeScript, fp64): the prologue — dead columns, act_order permutation, damping and
 *   U = chol(H⁻¹)ᵀ with the retry ladder (`solver.ts`). It is one sequential O(in³)
 *   factorisation per Hessian (shared by q/k/v and by gate/up), whose retry decision needs
 *   the host anyway; the GEMM kernel here is the building block should a blocked GPU
 *   Cholesky become worth it for wide models.
 * - GPU: per block of ≤128 columns, the quantizer refit at group boundaries
 *   (`quant.wgsl` fit), SparseGPT's unstructured block threshold (`select.wgsl`), the
 *   in-block column loop (`block.wgsl`), and the lazy update W[:, i2:] −= Err·U[i1:i2, i2:]
 *   (`gemm.wgsl`). Only the block's rows of U are on the GPU at a time (one slab buffer,
 *   rewritten per block), and W is split into row chunks under the binding limit.
 */

const BW = 128;
/** block.wgsl: one invocation per row. */
const ROWS_PER_WORKGROUP = 64;

export const BLOCK_PARAMS = defineParams({
  rows: 'u32',
  cols: 'u32',
  i1: 'u32',
  count: 'u32',
  mode: 'u32',
  gs: 'u32',
  groups: 'u32',
  n: 'u32',
  m: 'u32',
  ...GRID_FIELDS,
  lo: 'f32',
  hi: 'f32',
});

export const SELECT_PARAMS = defineParams({
  rows: 'u32',
  cols: 'u32',
  i1: 'u32',
  count: 'u32',
  shift: 'u32',
  first: 'u32',
  ...GRID_FIELDS,
});

const BLOCK_WGSL = composeWgsl(BLOCK_PARAMS.wgsl, gridWgsl, quantizerWgsl, nmRankWgsl, blockWgsl);
const SELECT_WGSL = composeWgsl(SELECT_PARAMS.wgsl, gridWgsl, selectWgsl);

type Mode =
  | { kind: 'quant'; cfg: QuantConfig; grouped: boolean; init: Float32Array | null }
  | { kind: 'nm'; n: number; m: number }
  | { kind: 'ratio'; ratio: number };

interface Chunk {
  r0: number;
  rows: number;
  w: GPUBuffer;
  out: GPUBuffer;
  err: GPUBuffer;
  qp: GPUBuffer;
  bmask: GPUBuffer;
}

interface SolverOutput {
  /** Final weights (in prologue column order). */
  w: Float32Array;
  /** Codes (quant) or mask (prune), prologue column order. */
  out: Uint8Array;
  /** Interleaved (scale, zero) per (row, group), quant only. */
  qp: Float32Array;
}

async function runBlocked(
  device: GPUDevice,
  p: Prologue,
  rows: number,
  cols: number,
  B: number,
  mode: Mode,
  limits: Limits,
): Promise<SolverOutput> {
  if (B > BW) throw new Error(`GPU solver holds at most ${BW} columns per block`);
  const maxDim = limits.maxWorkgroupsPerDim;
  const groups = mode.kind === 'quant' ? groupLayout(cols, mode.cfg.groupSize).groups : 1;
  const groupSize = mode.kind === 'quant' ? groupLayout(cols, mode.cfg.groupSize).groupSize : cols;
  if (B * cols * 4 > limits.maxBindingBytes) throw new Error(`a ${B}-row slab of U (${B * cols * 4} bytes) exceeds the binding limit`);

  const dv = new Float32Array(2 * cols);
  for (let j = 0; j < cols; j++) {
    dv[2 * j] = p.invd[j];
    dv[2 * j + 1] = p.invd2[j];
  }
  const dvb = uploadF32(device, dv);
  const slab = storageBuffer(device, B * cols * 4);
  const state = mode.kind === 'ratio' ? storageBuffer(device, 258 * 4) : null;

  const chunks: Chunk[] = rowChunks(rows, Math.max(cols * 4, groups * 8, BW * 4), limits.maxBindingBytes).map(([r0, r1]) => {
    const n = r1 - r0;
    const qp = storageBuffer(device, n * groups * 8);
    if (mode.kind === 'quant' && mode.init) device.queue.writeBuffer(qp, 0, mode.init.subarray(r0 * groups * 2, r1 * groups * 2));
    return {
      r0,
      rows: n,
      w: uploadF32(device, p.W.subarray(r0 * cols, r1 * cols)),
      out: storageBuffer(device, n * cols * 4),
      err: storageBuffer(device, n * BW * 4),
      qp,
      bmask: mode.kind === 'ratio' ? storageBuffer(device, n * BW * 4) : scratch(device, 0),
    };
  });

  const grid = quantGrid(mode.kind === 'quant' ? mode.cfg : { bits: 8, sym: true });
  for (let i1 = 0; i1 < cols; i1 += B) {
    const i2 = Math.min(i1 + B, cols);
    const count = i2 - i1;
    device.queue.writeBuffer(slab, 0, p.U.buffer, p.U.byteOffset + i1 * cols * 4, count * cols * 4);
    const rec = new Recorder(device);

    if (mode.kind === 'quant' && mode.grouped) {
      const g0 = Math.ceil(i1 / groupSize);
      const g1 = Math.ceil(i2 / groupSize);
      for (const c of chunks) {
        const l: QuantLaunch = { w: c.w, qp: c.qp, rows: c.rows, cols, groupSize, groups, cfg: mode.cfg };
        encodeQuantFit(rec, l, g0, g1 - g0, maxDim);
      }
    }

    if (mode.kind === 'ratio' && mode.ratio > 0 && state) {
      const numel = rows * count;
      const k = Math.min(numel - 1, Math.floor(numel * mode.ratio));
      const init = new Uint32Array(258);
      init[257] = k;
      device.queue.writeBuffer(state, 0, init);
      for (let pass = 0; pass < 4; pass++) {
        const shift = 24 - 8 * pass;
        for (const c of chunks) encodeSelect(rec, c, state, dvb, cols, i1, count, shift, pass === 0, 'hist', maxDim);
        encodeSelect(rec, chunks[0], state, dvb, cols, i1, count, shift, false, 'pick', maxDim);
      }
      for (const c of chunks) encodeSelect(rec, c, state, dvb, cols, i1, count, 0, false, 'mark', maxDim);
    }

    for (const c of chunks) {
      const modeId = mode.kind === 'quant' ? 0 : mode.kind === 'nm' ? 1 : 2;
      const fixed = {
        rows: c.rows,
        cols,
        i1,
        count,
        mode: modeId,
        gs: groupSize,
        groups,
        n: mode.kind === 'nm' ? mode.n : 0,
        m: mode.kind === 'nm' ? mode.m : 1,
        lo: grid.lo,
        hi: grid.hi,
      };
      rec.dispatchRange(BLOCK_WGSL, BLOCK_PARAMS, fixed, Math.ceil(c.rows / ROWS_PER_WORKGROUP), maxDim, [
        { kind: 'readwrite', buffer: c.w },
        { kind: 'read', buffer: slab },
        { kind: 'read', buffer: dvb },
        { kind: 'read', buffer: c.qp },
        { kind: 'read', buffer: c.bmask },
        { kind: 'readwrite', buffer: c.err },
        { kind: 'readwrite', buffer: c.out },
      ]);
      if (i2 < cols) {
        encodeGemm(
          rec,
          {
            m: c.rows,
            n: cols - i2,
            k: count,
            a: { buf: c.err, off: 0, rs: BW, cs: 1 },
            b: { buf: slab, off: i2, rs: cols, cs: 1 },
            c: { buf: c.w, off: i2, rs: cols },
            alpha: 1,
            beta: -1,
          },
          maxDim,
        );
      }
    }
    rec.submit();
  }

  const w = new Float32Array(rows * cols);
  const out = new Uint8Array(rows * cols);
  const qp = new Float32Array(rows * groups * 2);
  for (const c of chunks) {
    w.set(await readF32(device, c.w, c.rows * cols), c.r0 * cols);
    out.set(await readU32(device, c.out, c.rows * cols), c.r0 * cols);
    if (mode.kind === 'quant') qp.set(await readF32(device, c.qp, c.rows * groups * 2), c.r0 * groups * 2);
    for (const b of [c.w, c.out, c.err, c.qp]) b.destroy();
    if (mode.kind === 'ratio') c.bmask.destroy();
  }
  dvb.destroy();
  slab.destroy();
  state?.destroy();
  return { w, out, qp };
}

function encodeSelect(
  rec: Recorder,
  c: Chunk,
  state: GPUBuffer,
  dvb: GPUBuffer,
  cols: number,
  i1: number,
  count: number,
  shift: number,
  first: boolean,
  entry: 'hist' | 'pick' | 'mark',
  maxDim: number,
): void {
  // `pick` is one invocation: a single workgroup.
  const workgroups = entry === 'pick' ? 1 : Math.ceil((c.rows * count) / 64);
  const fixed = { rows: c.rows, cols, i1, count, shift, first: first ? 1 : 0 };
  rec.dispatchRange(
    SELECT_WGSL,
    SELECT_PARAMS,
    fixed,
    workgroups,
    maxDim,
    [
      { kind: 'read', buffer: c.w },
      { kind: 'read', buffer: dvb },
      { kind: 'readwrite', buffer: state },
      { kind: 'readwrite', buffer: c.bmask },
    ],
    entry,
  );
}

/** GPTQ with the column loop on the GPU; same result shape (and, up to fp32 rounding, values) as `gptq`. */
export async function gptqGpu(device: GPUDevice, W: Matrix, H: Float32Array, opts: GptqOptions, tuning?: GpuTuning): Promise<GptqResult> {
  const { rows, cols } = W;
  const cfg = gptqConfig(opts);
  const { groupSize, groups } = groupLayout(cols, cfg.groupSize);
  const grouped = groups > 1;
  const { lo } = quantGrid(cfg);
  const B = resolveBlockSize(opts);
  let init: Float32Array | null = null;
  if (!grouped) {
    const t = fitRowsOnce(W, cfg);
    init = new Float32Array(rows * 2);
    for (let r = 0; r < rows; r++) {
      init[2 * r] = t.scale[r];
      init[2 * r + 1] = t.zero[r];
    }
  }
  const p = prologue(W, H, opts, opts.actOrder ?? true);
  const res = await runBlocked(device, p, rows, cols, B, { kind: 'quant', cfg, grouped, init }, resolveLimits(device, tuning));
  const { scales, zeros } = splitParams(res.qp, lo);
  return gptqResult(rows, cols, res.w, res.out, scales, zeros, cfg, groupSize, groups, p.report);
}

/** SparseGPT with the column loop on the GPU; same result shape as `sparsegpt`. */
export async function sparsegptGpu(
  device: GPUDevice,
  W: Matrix,
  H: Float32Array,
  opts: SparseGptOptions,
  tuning?: GpuTuning,
): Promise<SparseGptResult> {
  const { rows, cols } = W;
  const { sparsity } = opts;
  checkSparsity(sparsity);
  const B = resolveBlockSize(opts);
  if (isNM(sparsity) && B % sparsity.m !== 0) throw new Error(`sparsegpt: blockSize ${B} must be a multiple of M = ${sparsity.m}`);
  const p = prologue(W, H, opts, false);
  const mode: Mode = isNM(sparsity) ? { kind: 'nm', n: sparsity.n, m: sparsity.m } : { kind: 'ratio', ratio: sparsity.ratio };
  const res = await runBlocked(device, p, rows, cols, B, mode, resolveLimits(device, tuning));
  return { weight: matrix(rows, cols, res.w), mask: res.out, report: p.report };
}
