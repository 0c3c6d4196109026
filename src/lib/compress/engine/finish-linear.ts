import { layerPrefix, linearWeightName, type LinearId } from '../../model/spec';
import { linearF32 } from '../reference/block';
import { groupLayout, type QuantizedMatrix } from '../reference/quantizer';
import type { SolverReport } from '../reference/solver';
import { checkStructure, type StructureSpec } from '../reference/structure';
import type { Matrix } from '../reference/types';
import { checkCompressed } from './finite';
import type { LayerContext } from './layer-context';
import type { LinearReport } from './report';

/** ‖XWᵀ − XŴᵀ‖² / ‖XWᵀ‖², with the register-blocked linear and double sums. */
export function relativeOutputError(W: Matrix, What: Matrix, X: Matrix): number {
  if (X.rows === 0) return NaN;
  const D = new Float32Array(W.data.length);
  for (let i = 0; i < D.length; i++) D[i] = W.data[i] - What.data[i];
  const yd = linearF32(X.data, D, X.rows, W.cols, W.rows);
  const y = linearF32(X.data, W.data, X.rows, W.cols, W.rows);
  let num = 0;
  let den = 0;
  for (let i = 0; i < y.length; i++) {
    num += yd[i] * yd[i];
    den += y[i] * y[i];
  }
  return den === 0 ? (num === 0 ? 0 : Infinity) : num / den;
}

function structureSpec(ctx: LayerContext, cols: number, gIdx?: Int32Array): StructureSpec {
  const s = ctx.settings;
  return 'bits' in s
    ? { kind: 'quant', bits: s.bits, groupSize: groupLayout(cols, s.groupSize).groupSize, gIdx }
    : { kind: 'prune', sparsity: s.sparsity };
}

/** Records a compressed linear: swaps it into the layer, checks its structure, measures its error. */
export function finishLinear(
  ctx: LayerContext,
  l: LinearId,
  dense: Matrix,
  compressed: Matrix,
  X: Matrix,
  started: number,
  extra: { q?: QuantizedMatrix; solver?: SolverReport; awq?: LinearReport['awq'] } = {},
): void {
  const name = `${layerPrefix(ctx.layer)}${linearWeightName(l)}`;
  checkCompressed(ctx.layer, l, compressed.data);
  const st = ctx.timer.timeSync('check', () => checkStructure(compressed, structureSpec(ctx, dense.cols, extra.q?.gIdx)));
  const error = ctx.timer.timeSync('error', () => relativeOutputError(dense, compressed, X));
  const s = ctx.settings;
  ctx.lw.set(linearWeightName(l), compressed.data);
  if (extra.q) ctx.quantized.set(name, extra.q);
  ctx.linears.push({
    name,
    layer: ctx.layer,
    linear: l,
    shape: [dense.rows, dense.cols],
    error,
    errorTokens: X.rows,
    zeros: st.zeros,
    ...(st.maxDistinct !== undefined ? { maxDistinct: st.maxDistinct } : {}),
    structureProblem: st.problem,
    groupSize: 'bits' in s ? groupLayout(dense.cols, s.groupSize).groupSize : 0,
    ...(extra.solver
      ? {
          solver: {
            percdamp: extra.solver.percdamp,
            damp: extra.solver.damp,
            retries: extra.solver.retries,
            deadColumns: extra.solver.deadColumns,
            actOrder: extra.solver.perm !== null,
          },
        }
      : {}),
    ...(extra.awq ? { awq: extra.awq } : {}),
    ms: performance.now() - started,
  });
}
