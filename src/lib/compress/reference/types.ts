/**
 * A dense row-major fp32 matrix. For a linear layer's weight, rows are output features and
 * columns are input features (PyTorch's `[out, in]`); for activations, rows are tokens.
 */
export interface Matrix {
  readonly rows: number;
  readonly cols: number;
  readonly data: Float32Array;
}

export function matrix(rows: number, cols: number, data?: Float32Array): Matrix {
  if (!Number.isInteger(rows) || !Number.isInteger(cols) || rows < 0 || cols < 0) throw new Error(`matrix: bad shape ${rows}×${cols}`);
  const d = data ?? new Float32Array(rows * cols);
  if (d.length !== rows * cols) throw new Error(`matrix: ${rows}×${cols} needs ${rows * cols} values, got ${d.length}`);
  return { rows, cols, data: d };
}

export function cloneMatrix(m: Matrix): Matrix {
  return { rows: m.rows, cols: m.cols, data: m.data.slice() };
}

/** N:M semi-structured (N of every M consecutive inputs pruned) or an unstructured ratio per row. */
export type Sparsity = { n: number; m: number } | { ratio: number };

export function isNM(s: Sparsity): s is { n: number; m: number } {
  return 'n' in s;
}

/** Pruning result: the new weight and which entries were removed (1 = pruned), row-major like W. */
export interface PruneResult {
  weight: Matrix;
  mask: Uint8Array;
}

export const f32 = Math.fround;
