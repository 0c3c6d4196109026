import { BLOCK_TAPS, LINEAR_IDS, tapWidth, type BlockTap, type LinearId } from '../../../model/spec';
import { LINEAR_INPUT } from '../../reference/block';
import type { QuantizedMatrix } from '../../reference/quantizer';
import type { SolverReport } from '../../reference/solver';
import type { Matrix, Sparsity } from '../../reference/types';
import { createStats, type Stats } from '../backend';
import { finishLinear } from '../finish-linear';
import { checkStatistic } from '../finite';
import { forwardCompressed, pass, samplesFor, weightMatrix, type LayerContext, type LayerStrategy } from '../layer-context';

/** A compressed linear as a one-shot method hands it back. */
export interface CompressedLinear {
  weight: Matrix;
  q?: QuantizedMatrix;
  solver?: SolverReport;
}

/** How one of RTN, magnitude, Wanda, SparseGPT treats a linear. */
export interface OneShotMethod {
  /** The per-tap statistic the method reads (none for RTN and magnitude). */
  statistic?: { hessian: boolean; wanda: boolean; what: string; read: (st: Stats) => Promise<Float32Array> };
  /** `stat` reads the linear's input statistic (once per tap, shared by the linears on it). */
  compress(ctx: LayerContext, l: LinearId, W: Matrix, stat: () => Promise<Float32Array>): Promise<CompressedLinear>;
}

/** RTN, magnitude, Wanda, SparseGPT: one pass for every linear's statistics, then all seven. */
export function oneShotStrategy(method: OneShotMethod): LayerStrategy {
  const strategy = async (ctx: LayerContext): Promise<Float32Array[]> => {
    const { statistic } = method;
    const stats: Partial<Record<BlockTap, Stats>> = {};
    if (statistic) {
      for (const t of BLOCK_TAPS)
        stats[t] = createStats(ctx.kernels, tapWidth(ctx.spec, t), { hessian: statistic.hessian, wanda: statistic.wanda, absMean: false });
    }
    const samples = samplesFor(ctx, BLOCK_TAPS);
    try {
      await pass(ctx, ctx.lw, { taps: [...BLOCK_TAPS], stats, samples, until: 'down_proj_in' }, 'block forward for calibration statistics');
      const cache = new Map<BlockTap, Float32Array>();
      const stat = async (t: BlockTap) => {
        if (!statistic) throw new Error(`${ctx.settings.method} reads no calibration statistic`);
        let v = cache.get(t);
        if (!v)
          cache.set(t, (v = checkStatistic(ctx.layer, statistic.what, t, await ctx.timer.time('stats', () => statistic.read(stats[t]!)))));
        return v;
      };
      for (const l of LINEAR_IDS) {
        ctx.signal?.throwIfAborted();
        ctx.progress('compress', l, `${ctx.settings.method} ${l}`);
        const started = performance.now();
        const W = weightMatrix(ctx, l);
        const tap = LINEAR_INPUT[l];
        const X = samples[tap]!.matrix();
        const r = await method.compress(ctx, l, W, () => stat(tap));
        await finishLinear(ctx, l, W, r.weight, X, started, { q: r.q, solver: r.solver });
      }
    } finally {
      for (const st of Object.values(stats)) st?.destroy();
    }
    return forwardCompressed(ctx);
  };
  // Without a statistic the weights are the data's no matter what.
  return Object.assign(strategy, { dataFree: !method.statistic });
}

/** The sparsity of a pruning method's settings. */
export function sparsityOf(ctx: LayerContext): Sparsity {
  const s = ctx.settings;
  if (!('sparsity' in s)) throw new Error(`${s.method} does not prune`);
  return s.sparsity;
}
