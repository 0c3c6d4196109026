import { FactorCache } from '../../reference/solver';
import { sparsegptOn } from '../backend';
import type { LayerContext } from '../layer-context';
import { oneShotStrategy, sparsityOf } from './one-shot';

/** Each layer's factors: the linears on one input (q/k/v, gate/up) share their Hessian's. */
const layerFactors = new WeakMap<LayerContext, FactorCache>();

/** SparseGPT on each linear's Hessian (all from one dense pass, as the reference does). */
export const sparsegptLayer = oneShotStrategy({
  statistic: { hessian: true, wanda: false, what: 'Hessian', read: (st) => st.hessian() },
  async compress(ctx, l, W, stat) {
    const s = ctx.settings;
    const H = (await stat()).slice();
    ctx.onHessian?.(ctx.layer, l, H);
    let factors = layerFactors.get(ctx);
    if (!factors) layerFactors.set(ctx, (factors = new FactorCache()));
    const r = await ctx.timer.time('compress', () =>
      sparsegptOn(ctx.kernels, W, H, { sparsity: sparsityOf(ctx), percdamp: s.percdamp, blockSize: s.blockSize, factors }),
    );
    return { weight: r.weight, solver: r.report };
  },
});
