import { groupLayout, quantizeRtn, type QuantConfig } from './quantizer';
import { linearBiasName, linearWeightName, normWeightName, type BlockTap, type LinearId, type ModelSpec } from '../../model/spec';
import { linearF32Sums, linearWeight } from './block';
import { simdAwqLinearLoss, simdClipErrors, simdScaledFakeQuant } from './simd';
import { f32, matrix, type Matrix } from './types';

/**
 * AWQ (mit-han-lab/llm-awq `auto_scale.py`, `auto_clip.py`, `quantizer.py`). The block
 * forward belongs to the caller: the scale search takes a loss function, and folding is
 * offered as helpers on plain arrays.
 */

export function awqConfig(bits: number, groupSize = 128, zeroPoint = true): QuantConfig {
  return { bits, groupSize, sym: !zeroPoint, variant: 'awq' };
}

export const AWQ_MIN_SCALE = f32(1e-4);

/**
 * `s = clamp(x_mean^ratio, 1e-4)`, `s /= sqrt(max s · min s)`, in fp32. Null when the
 * candidate is not finite (an inf/NaN activation statistic), so the search skips it.
 */
export function awqScalesForRatio(xMean: Float32Array, ratio: number): Float32Array | null {
  const s = new Float32Array(xMean.length);
  let mx = -Infinity;
  let mn = Infinity;
  for (let j = 0; j < s.length; j++) {
    const v = Math.max(f32(Math.pow(xMean[j], ratio)), AWQ_MIN_SCALE);
    s[j] = v;
    if (v > mx) mx = v;
    if (v < mn) mn = v;
  }
  const norm = f32(Math.sqrt(f32(mx * mn)));
  if (!(norm > 0 && Number.isFinite(norm))) return null;
  for (let j = 0; j < s.length; j++) s[j] = f32(s[j] / norm);
  return s.every(Number.isFinite) ? s : null;
}

export interface AwqSearchResult {
  /** The chosen per-input-channel scales (all ones when no candidate gave a finite loss). */
  scales: Float32Array;
  /** The chosen ratio, or −1 when falling back to unit scales. */
  ratio: number;
  loss: number;
  /** Loss per grid point; NaN where the candidate was skipped. */
  losses: number[];
  fallback: boolean;
}

/**
 * The 20-point grid search: for ratio in {0, 1/grid, …}, evaluate `loss(s)` (the caller
 * applies W' = Q(W·diag s)·diag s⁻¹ to the linears being scaled, runs the block, and returns
 * the fp32 mean squared error against the dense block output) and keep the first strict
 * minimum. Non-finite losses never win.
 */
export async function searchAwqScales(
  xMean: Float32Array,
  loss: (scales: Float32Array, ratio: number) => number | Promise<number>,
  grid = 20,
): Promise<AwqSearchResult> {
  let best = Infinity;
  let bestRatio = -1;
  let bestScales: Float32Array | null = null;
  const losses: number[] = [];
  for (let k = 0; k < grid; k++) {
    const ratio = k / grid;
    const s = awqScalesForRatio(xMean, ratio);
    if (!s) {
      losses.push(NaN);
      continue;
    }
    const l = await loss(s, ratio);
    losses.push(l);
    if (l < best) {
      best = l;
      bestRatio = ratio;
      bestScales = s;
    }
  }
  if (!bestScales) return { scales: new Float32Array(xMean.length).fill(1), ratio: -1, loss: NaN, losses, fallback: true };
  return { scales: bestScales, ratio: bestRatio, loss: best, losses, fallback: false };
}

/** W·diag(s): every column j multiplied by s_j (folding s into the consuming linear). */
export function scaleColumns(W: Matrix, s: Float32Array): Matrix {
  if (s.length !== W.cols) throw new Error(`awq: ${s.length} scales for ${W.cols} columns`);
  const out = new Float32Array(W.data.length);
  for (let r = 0; r < W.rows; r++) for (let j = 0; j < W.cols; j++) out[r * W.cols + j] = f32(W.data[r * W.cols + j] * s[j]);
  return matrix(W.rows, W.cols, out);
}

/** Divides the columns of row-major `data` ([rows, s.length]) by s, in place. */
export function divideColumns(data: Float32Array, s: Float32Array): void {
  const c = s.length;
  for (let r = 0; r < data.length; r += c) for (let j = 0; j < c; j++) data[r + j] = f32(data[r + j] / s[j]);
}

/**
 * The search candidate Q(W·diag s)·diag s⁻¹, written into `into` (rows × cols) when given: a
 * search that reuses one buffer per linear spares the allocator a fresh matrix per candidate.
 */
export function awqScaledFakeQuant(W: Matrix, s: Float32Array, cfg: QuantConfig, into?: Float32Array): Matrix {
  if (s.length !== W.cols) throw new Error(`awq: ${s.length} scales for ${W.cols} columns`);
  if (into && into.length !== W.data.length) throw new Error(`awq: a buffer of ${into.length} for a ${W.rows}×${W.cols} candidate`);
  const { groupSize } = groupLayout(W.cols, cfg.groupSize);
  const fast = simdScaledFakeQuant(W.data, s, W.rows, W.cols, groupSize, cfg.bits, cfg.variant ?? 'gptq', cfg.sym, into);
  if (fast) return matrix(W.rows, W.cols, fast);
  const q = quantizeRtn(scaleColumns(W, s), cfg).weight.data;
  divideColumns(q, s);
  if (!into) return matrix(W.rows, W.cols, q);
  into.set(q);
  return matrix(W.rows, W.cols, into);
}

/**
 * One linear's AWQ search loss for scales `s`: Σ over the samples of `squaredErrorF32(X_n ·
 * Q(W·diag s)·diag s⁻¹ᵀ, target_n)` with fp32 sums in the product, X [T, in] and `target` [T, out]
 * holding the samples' `perSample` tokens one after another. Summed sample by sample in order, it
 * equals what a loss over per-sample outputs adds up; in the SIMD module nothing but the sum leaves it.
 */
export function awqLinearLoss(X: Matrix, W: Matrix, s: Float32Array, cfg: QuantConfig, target: Float32Array, perSample = X.rows): number {
  return awqLinearLossFor(X, W, cfg, target, perSample)(s);
}

/**
 * `awqLinearLoss` of one search, a candidate's scales a call: X, W and `target` go into the SIMD
 * module once and stay there between candidates while nothing else uses it (each call then copies
 * only its scales). They must not change while the returned function is in use.
 */
export function awqLinearLossFor(
  X: Matrix,
  W: Matrix,
  cfg: QuantConfig,
  target: Float32Array,
  perSample = X.rows,
): (s: Float32Array) => number {
  if (X.cols !== W.cols || target.length !== X.rows * W.rows)
    throw new Error(`awq: X ${X.rows}×${X.cols}, W ${W.rows}×${W.cols}, target of ${target.length}`);
  const { groupSize } = groupLayout(W.cols, cfg.groupSize);
  const search = {};
  return (s) => {
    const fast = simdAwqLinearLoss(
      X.data,
      X.rows,
      W.data,
      s,
      W.rows,
      W.cols,
      groupSize,
      cfg.bits,
      cfg.variant ?? 'gptq',
      cfg.sym,
      target,
      perSample,
      search,
    );
    if (fast !== null) return fast;
    const q = awqScaledFakeQuant(W, s, cfg).data;
    let e = 0;
    for (let t0 = 0; t0 < X.rows; t0 += perSample) {
      const n = Math.min(perSample, X.rows - t0);
      const y = linearF32Sums(X.data.subarray(t0 * X.cols, (t0 + n) * X.cols), q, n, W.cols, W.rows);
      e += squaredErrorF32(y, target.subarray(t0 * W.rows, (t0 + n) * W.rows));
    }
    return e;
  };
}

/** Σ (a − b)² with fp32 differences: the scale search's loss before it is averaged. */
export function squaredErrorF32(a: Float32Array, b: Float32Array): number {
  let e = 0;
  for (let i = 0; i < a.length; i++) {
    const d = f32(a[i] - b[i]);
    e += d * d;
  }
  return e;
}

/** RMSNorm γ / s (the norm that feeds the scaled linears). */
export function foldIntoNorm(gamma: Float32Array, s: Float32Array, offset = 0): Float32Array {
  if (gamma.length !== s.length) throw new Error(`awq: ${s.length} scales for a norm of ${gamma.length}`);
  // A norm that multiplies by (offset + γ) scales by (offset + γ')= (offset + γ)/s.
  return gamma.map((g, j) => f32(f32(offset + g) / s[j] - offset));
}

/**
 * The previous linear's last `s.length` output rows (and bias) divided by s, as llm-awq's
 * `scale_fc_fc` does (v_proj → o_proj, up_proj → down_proj).
 */
export function foldIntoPreviousLinear(Wprev: Matrix, s: Float32Array, bias?: Float32Array): { weight: Matrix; bias?: Float32Array } {
  if (s.length > Wprev.rows) throw new Error(`awq: ${s.length} scales for a linear with ${Wprev.rows} outputs`);
  const out = Wprev.data.slice();
  const first = Wprev.rows - s.length;
  for (let j = 0; j < s.length; j++) {
    const row = (first + j) * Wprev.cols;
    for (let c = 0; c < Wprev.cols; c++) out[row + c] = f32(out[row + c] / s[j]);
  }
  const b = bias?.slice();
  if (b) for (let j = 0; j < s.length; j++) b[first + j] = f32(b[first + j] / s[j]);
  return { weight: matrix(Wprev.rows, Wprev.cols, out), bias: b };
}

/** The scales of one layer's four searches; `vo` is null when v_proj → o_proj was skipped. */
export interface AwqLayerScales {
  attnIn: Float32Array;
  vo: Float32Array | null;
  mlpIn: Float32Array;
  upDown: Float32Array;
}

/** v_proj's output feeds o_proj's input one to one only without GQA; otherwise that search is skipped. */
export function awqScalesVo(spec: ModelSpec): boolean {
  return spec.numKvHeads * spec.headDim === spec.hiddenSize && spec.hiddenSize === spec.numHeads * spec.headDim;
}

/**
 * llm-awq's `apply_scale` on one layer, in place: norms and previous linears ÷ s, the scaled
 * linears' columns × s, and each scaled linear's kept inputs ÷ s (so they stay its inputs).
 */
export function foldAwqScales(
  spec: ModelSpec,
  layer: number,
  lw: Map<string, Float32Array>,
  scales: AwqLayerScales,
  inputs: Record<BlockTap, Float32Array>,
): void {
  const { norms, normOffset } = spec.block;
  const W = (l: LinearId) => linearWeight(spec, lw, l, layer);
  const setW = (l: LinearId, m: Matrix) => lw.set(linearWeightName(l), m.data);
  const fold = (norm: string, sc: Float32Array) =>
    lw.set(normWeightName(norm), foldIntoNorm(lw.get(normWeightName(norm))!, sc, normOffset));
  fold(norms.attnIn, scales.attnIn);
  // A q/k/v bias is added after the scaled matmul and does not change.
  for (const l of ['q_proj', 'k_proj', 'v_proj'] as const) setW(l, scaleColumns(W(l), scales.attnIn));
  divideColumns(inputs.q_proj_in, scales.attnIn);
  if (scales.vo) {
    const v = foldIntoPreviousLinear(W('v_proj'), scales.vo, lw.get(linearBiasName('v_proj')));
    setW('v_proj', v.weight);
    if (v.bias) lw.set(linearBiasName('v_proj'), v.bias);
    setW('o_proj', scaleColumns(W('o_proj'), scales.vo));
    divideColumns(inputs.o_proj_in, scales.vo);
  }
  fold(norms.mlpIn, scales.mlpIn);
  for (const l of ['gate_proj', 'up_proj'] as const) setW(l, scaleColumns(W(l), scales.mlpIn));
  divideColumns(inputs.gate_proj_in, scales.mlpIn);
  setW('up_proj', foldIntoPreviousLinear(W('up_proj'), scales.upDown).weight);
  setW('down_proj', scaleColumns(W('down_proj'), scales.upDown));
  divideColumns(inputs.down_proj_in, scales.upDown);
}

export interface AwqClipOptions {
  grid?: number;
  maxShrink?: number;
  /** Tokens are taken every ⌊T / sampleTokens⌋ (at least 1), as `input_feat[:, 0::T // n]`. */
  sampleTokens?: number;
}

export function sampledTokenRows(tokens: number, sampleTokens = 512): number[] {
  const stride = Math.max(1, Math.floor(tokens / sampleTokens));
  const rows: number[] = [];
  for (let t = 0; t < tokens; t += stride) rows.push(t);
  return rows;
}

/**
 * Clip search (skip q_proj and k_proj: the caller's choice). Per (row, group): m0 = max|w|;
 * for k in 0..⌊maxShrink·grid⌋−1, m = m0·(1 − k/grid), error = mean over sampled tokens of
 * (x·Q(clamp(w, ±m)) − x·w)²; keeps the first strict minimum. X is tokens × in (the linear's
 * input). Returns the chosen max per (row, group), row-major [rows · groups].
 */
export function awqClipSearch(W: Matrix, X: Matrix, cfg: QuantConfig, opts: AwqClipOptions = {}): Float32Array {
  const { grid = 20, maxShrink = 0.5, sampleTokens = 512 } = opts;
  if (X.cols !== W.cols) throw new Error(`awq clip: X has ${X.cols} columns, W has ${W.cols}`);
  const { groupSize, groups } = groupLayout(W.cols, cfg.groupSize);
  const toks = sampledTokenRows(X.rows, sampleTokens);
  const T = toks.length;
  const steps = Math.floor(maxShrink * grid);
  const best = new Float32Array(W.rows * groups);
  const chunk = Math.min(W.rows, CLIP_ROWS_PER_PASS);
  // Candidates of a pass: first each row's w (the reference output), then row i's clipped,
  // quantized w of step k at rows + i·steps + k.
  // The loops' buffers (`clipErrorsInLoops`), made the first time the SIMD module does not take a pass.
  let loopBuffers: { cand: Float32Array; clipped: Float32Array; errs: Float32Array } | null = null;
  const maxima = new Float32Array(chunk * steps);
  const rowMax = new Float32Array(chunk);
  const errs = new Float32Array(chunk * steps);
  const slab = new Float32Array(T * groupSize);
  for (let g = 0; g < groups; g++) {
    const j0 = g * groupSize;
    const len = Math.min(W.cols, j0 + groupSize) - j0;
    // The sampled tokens' inputs to this group, once for all its rows.
    for (let t = 0; t < T; t++) slab.set(X.data.subarray(toks[t] * X.cols + j0, toks[t] * X.cols + j0 + len), t * len);
    for (let r0 = 0; r0 < W.rows; r0 += chunk) {
      const rows = Math.min(chunk, W.rows - r0);
      for (let i = 0; i < rows; i++) {
        const w = W.data.subarray((r0 + i) * W.cols + j0, (r0 + i) * W.cols + j0 + len);
        let m0 = 0;
        for (let j = 0; j < len; j++) m0 = Math.max(m0, Math.abs(w[j]));
        rowMax[i] = m0;
        // The factor in fp32, as torch multiplies an fp32 tensor by a Python scalar (and the GPU kernel does).
        for (let k = 0; k < steps; k++) maxima[i * steps + k] = f32(m0 * f32(1 - k / grid));
      }
      const fast = simdClipErrors(
        slab,
        T,
        W.data,
        r0 * W.cols + j0,
        W.cols,
        rows,
        len,
        maxima,
        steps,
        cfg.bits,
        cfg.variant ?? 'gptq',
        cfg.sym,
      );
      if (fast) errs.set(fast);
      else {
        loopBuffers ??= {
          cand: new Float32Array(chunk * (1 + steps) * groupSize),
          clipped: new Float32Array(chunk * steps * groupSize),
          errs,
        };
        clipErrorsInLoops(W.data, r0 * W.cols + j0, W.cols, rows, len, slab, T, maxima, steps, cfg, loopBuffers);
      }
      for (let i = 0; i < rows; i++) {
        let minErr = 1e9;
        let bestMax = rowMax[i];
        for (let k = 0; k < steps; k++) {
          const err = f32(errs[i * steps + k] / T);
          if (err < minErr) {
            minErr = err;
            bestMax = maxima[i * steps + k];
          }
        }
        best[(r0 + i) * groups + g] = bestMax;
      }
    }
  }
  return best;
}

/**
 * The clip search's errors for `rows` rows of one group in TypeScript: each row (`len` columns of
 * `W` from `w0`, leading dimension `ld`) clamped to each of its maxima and quantized as a group of
 * its own, every candidate and the unclipped row against the sampled inputs `slab` (T × len) in one
 * product, the squared errors summed token by token into `bufs.errs` (rows × steps).
 * `simdClipErrors` is the same computation in the SIMD module.
 */
function clipErrorsInLoops(
  W: Float32Array,
  w0: number,
  ld: number,
  rows: number,
  len: number,
  slab: Float32Array,
  T: number,
  maxima: Float32Array,
  steps: number,
  cfg: QuantConfig,
  bufs: { cand: Float32Array; clipped: Float32Array; errs: Float32Array },
): void {
  const { cand, clipped, errs } = bufs;
  for (let i = 0; i < rows; i++) {
    const w = W.subarray(w0 + i * ld, w0 + i * ld + len);
    cand.set(w, i * len);
    for (let k = 0; k < steps; k++) {
      const m = maxima[i * steps + k];
      const c0 = (i * steps + k) * len;
      for (let j = 0; j < len; j++) clipped[c0 + j] = Math.min(m, Math.max(-m, w[j]));
    }
  }
  // Each clipped candidate is one group of its own: the quantizer fits and rounds it.
  const n = rows * steps * len;
  cand.set(quantizeRtn(matrix(rows * steps, len, clipped.subarray(0, n)), { ...cfg, groupSize: len }).weight.data, rows * len);
  // Every candidate of these rows against every sampled token: one [T, C] product.
  const C = rows * (1 + steps);
  const dots = linearF32Sums(slab.subarray(0, T * len), cand.subarray(0, C * len), T, len, C);
  // Squared errors summed token by token (t ascending per entry), reading the products row by row.
  errs.fill(0, 0, rows * steps);
  for (let t = 0; t < T; t++) {
    const row = t * C;
    for (let i = 0; i < rows; i++) {
      const ref = dots[row + i];
      const at = row + rows + i * steps;
      for (let k = 0; k < steps; k++) {
        const d = f32(dots[at + k] - ref);
        errs[i * steps + k] = f32(errs[i * steps + k] + f32(d * d));
      }
    }
  }
}

/** Rows of W whose clip candidates go through one product: bounds the candidate and output buffers (rows × 11 × 128 and tokens × rows × 11 values). */
const CLIP_ROWS_PER_PASS = 128;

/** The share of (row, group)s whose clip maximum lies below their largest |w|. */
export function clippedGroupShare(W: Matrix, maxVal: Float32Array, groupSize?: number): number {
  const { groups, groupSize: gs } = groupLayout(W.cols, groupSize);
  const cols = W.cols;
  let clipped = 0;
  for (let r = 0; r < W.rows; r++) {
    for (let g = 0; g < groups; g++) {
      let m0 = 0;
      for (let j = g * gs; j < Math.min(cols, (g + 1) * gs); j++) m0 = Math.max(m0, Math.abs(W.data[r * cols + j]));
      if (maxVal[r * groups + g] < m0) clipped++;
    }
  }
  return clipped / (W.rows * groups);
}

/** W clamped to ±maxVal per (row, group), as llm-awq's `apply_clip`. */
export function applyClip(W: Matrix, maxVal: Float32Array, groupSize?: number): Matrix {
  const { groupSize: gs, groups } = groupLayout(W.cols, groupSize);
  if (maxVal.length !== W.rows * groups) throw new Error(`awq clip: ${maxVal.length} maxima for ${W.rows}×${groups} groups`);
  const out = W.data.slice();
  for (let r = 0; r < W.rows; r++) {
    for (let j = 0; j < W.cols; j++) {
      const m = maxVal[r * groups + Math.floor(j / gs)];
      out[r * W.cols + j] = Math.min(m, Math.max(-m, out[r * W.cols + j]));
    }
  }
  return matrix(W.rows, W.cols, out);
}
