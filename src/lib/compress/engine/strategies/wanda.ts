import { wandaOn } from '../backend';
import { oneShotStrategy, sparsityOf } from './one-shot';

/** Wanda: |w| · ‖x‖ with the input channel norms of each linear. */
export const wandaLayer = oneShotStrategy({
  statistic: { hessian: false, wanda: true, what: 'channel norms', read: (st) => st.wanda() },
  async compress(ctx, _l, W, stat) {
    const norms = await stat();
    return ctx.timer.time('compress', () => wandaOn(ctx.kernels, W, norms, sparsityOf(ctx)));
  },
});
