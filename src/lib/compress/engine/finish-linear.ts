import { layerPrefix, linearWeightName, type LinearId } from '../../model/spec';
import { groupLayout, type QuantizedMatrix } from '../reference/quantizer';
import type { SolverReport } from '../reference/solver';
import { checkStructure, type StructureSpec } from '../reference/structure';
import type { Matrix } from '../reference/types';
import { relativeOutputErrorOn } from './backend';
import { checkCompressed } from './finite';
import type { LayerContext } from './layer-context';
import type { LinearReport } from './report';

function structureSpec(ctx: LayerContext, cols: number, gIdx?: Int32Array): StructureSpec {
  const s = ctx.settings;
  return 'bits' in s
    ? { kind: 'quant', bits: s.bits, groupSize: groupLayout(cols, s.groupSize).groupSize, gIdx }
    : { kind: 'prune', sparsity: s.sparsity };
}

/** Records a compressed linear: swaps it into the layer, checks its structure, measures its error. */
export async function finishLinear(
  ctx: LayerContext,
  l: LinearId,
  dense: Matrix,
  compressed: Matrix,
  X: Matrix,
  started: number,
  extra: { q?: QuantizedMatrix; solver?: SolverReport; awq?: LinearReport['awq'] } = {},
): Promise<void> {
  const name = `${layerPrefix(ctx.layer)}${linearWeightName(l)}`;
  checkCompressed(ctx.layer, l, compressed.data);
  const st = ctx.timer.timeSync('check', () => checkStructure(compressed, structureSpec(ctx, dense.cols, extra.q?.gIdx)));
  const error = await ctx.timer.time('error', () => relativeOutputErrorOn(ctx.kernels, dense, compressed, X));
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
