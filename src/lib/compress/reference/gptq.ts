import { fitGroup, groupLayout, quantGrid, quantizedMatrix, quantizeInt, type QuantConfig, type QuantizedMatrix } from './quantizer';
import { prologue, resolveBlockSize, solveColumns, SUB_BLOCK, unpermuteColumns, type SolverOptions, type SolverReport } from './solver';
import { f32, matrix, type Matrix } from './types';

export interface GptqOptions extends SolverOptions {
  bits: number;
  /** Columns per group (default 128 in the product; 0 = per output channel). */
  groupSize?: number;
  /** Default true (AutoGPTQ). */
  sym?: boolean;
  /** Quantize columns in descending diag(H) order (AutoGPTQ desc_act). Default true. */
  actOrder?: boolean;
}

export interface GptqResult extends QuantizedMatrix {
  report: SolverReport;
}

export function gptqConfig(opts: GptqOptions): QuantConfig {
  return { bits: opts.bits, groupSize: opts.groupSize, sym: opts.sym ?? true, variant: 'gptq' };
}

/**
 * Per-group (scale, zero) storage in the clamp domain. Without groups the reference fits each
 * row once, on W as given (before dead columns are zeroed); with groups it refits at every
 * group boundary on the lazily updated W (`fitGroupsStartingIn`).
 */
export interface GroupParamTable {
  scale: Float32Array;
  zero: Float32Array;
}

export function fitRowsOnce(W: Matrix, cfg: QuantConfig): GroupParamTable {
  const scale = new Float32Array(W.rows);
  const zero = new Float32Array(W.rows);
  for (let r = 0; r < W.rows; r++) {
    const p = fitGroup(W.data, r * W.cols, (r + 1) * W.cols, cfg);
    scale[r] = p.scale;
    zero[r] = p.zero;
  }
  return { scale, zero };
}

/**
 * Fits every group whose first column lies in [i1, i2), on the current W. Called at a block's
 * start, this sees exactly what the reference's `find_params(W[:, g:g+group])` sees mid-block:
 * the reference updates a clone of the block (W1) and leaves W itself alone until block end.
 */
export function fitGroupsStartingIn(
  W: Float32Array,
  rows: number,
  cols: number,
  i1: number,
  i2: number,
  groupSize: number,
  groups: number,
  cfg: QuantConfig,
  table: GroupParamTable,
): void {
  for (let g = Math.ceil(i1 / groupSize); g * groupSize < i2; g++) {
    for (let r = 0; r < rows; r++) {
      const p = fitGroup(W, r * cols + g * groupSize, r * cols + Math.min(cols, (g + 1) * groupSize), cfg);
      table.scale[r * groups + g] = p.scale;
      table.zero[r * groups + g] = p.zero;
    }
  }
}

/**
 * GPTQ (IST-DASLab `fasterquant` / AutoGPTQ): the blocked column loop with lazy updates, the
 * quantizer refit on the lazily updated W at group boundaries, act_order and its undo.
 */
export function gptq(W: Matrix, H: Float32Array, opts: GptqOptions): GptqResult {
  const { rows, cols } = W;
  const cfg = gptqConfig(opts);
  const { groupSize, groups } = groupLayout(cols, cfg.groupSize);
  const grouped = groups > 1;
  const { lo, hi } = quantGrid(cfg);
  const B = resolveBlockSize(opts);
  const actOrder = opts.actOrder ?? true;

  const table = grouped ? { scale: new Float32Array(rows * groups), zero: new Float32Array(rows * groups) } : fitRowsOnce(W, cfg);
  const p = prologue(W, H, opts, actOrder);
  const { W: Wp, U, invd } = p;
  const codes = new Uint8Array(rows * cols);
  let i1 = 0;
  solveColumns(
    Wp,
    rows,
    cols,
    U,
    invd,
    B,
    SUB_BLOCK,
    (r, i, w, at) => {
      const col = i1 + i;
      const g = grouped ? r * groups + Math.floor(col / groupSize) : r;
      const s = table.scale[g];
      const z = table.zero[g];
      const c = quantizeInt(w[at], s, z, lo, hi);
      codes[r * cols + col] = c - lo;
      return f32(s * (c - z));
    },
    (start, end) => {
      i1 = start;
      if (grouped) fitGroupsStartingIn(Wp, rows, cols, start, end, groupSize, groups, cfg, table);
    },
  );

  const scales = table.scale;
  const zeros = new Uint8Array(table.zero.length);
  for (let i = 0; i < zeros.length; i++) zeros[i] = table.zero[i] - lo;
  return gptqResult(rows, cols, Wp, codes, scales, zeros, cfg, groupSize, groups, p.report);
}

/**
 * The result both GPTQ paths return: columns back in their original order and, with act-order
 * and groups, the group of every original column.
 */
export function gptqResult(
  rows: number,
  cols: number,
  permuted: Float32Array,
  permutedCodes: Uint8Array,
  scales: Float32Array,
  zeros: Uint8Array,
  cfg: Pick<GptqResult, 'bits' | 'sym'>,
  groupSize: number,
  groups: number,
  report: GptqResult['report'],
): GptqResult {
  const perm = report.perm;
  let gIdx: Int32Array | undefined;
  if (perm && groups > 1) {
    gIdx = new Int32Array(cols);
    for (let q = 0; q < cols; q++) gIdx[perm[q]] = Math.floor(q / groupSize);
  }
  const weight = matrix(rows, cols, unpermuteColumns(permuted, rows, cols, perm));
  const codes = unpermuteColumns(permutedCodes, rows, cols, perm);
  return { ...quantizedMatrix(weight, { codes, scales, zeros, gIdx }, { ...cfg, variant: 'gptq' }, { groupSize, groups }), report };
}
