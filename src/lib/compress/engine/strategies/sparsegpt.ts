import { sparsegptOn } from '../backend';
import { oneShotStrategy, sparsityOf } from './one-shot';

/** SparseGPT on each linear's Hessian (all from one dense pass, as the reference does). */
export const sparsegptLayer = oneShotStrategy({
  statistic: { hessian: true, wanda: false, what: 'Hessian', read: (st) => st.hessian() },
  async compress(ctx, l, W, stat) {
    const s = ctx.settings;
    const H = (await stat()).slice();
    ctx.onHessian?.(ctx.layer, l, H);
    const r = await ctx.timer.time('compress', () =>
      sparsegptOn(ctx.kernels, W, H, { sparsity: sparsityOf(ctx), percdamp: s.percdamp, blockSize: s.blockSize, factors: ctx.factors }),
    );
    return { weight: r.weight, solver: r.report };
  },
});
