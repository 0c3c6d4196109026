import { magnitudeOn } from '../backend';
import { oneShotStrategy, sparsityOf } from './one-shot';

/** Magnitude pruning; no calibration statistic. */
export const magnitudeLayer = oneShotStrategy({
  async compress(ctx, _l, W) {
    return ctx.timer.time('compress', () => magnitudeOn(ctx.kernels, W, sparsityOf(ctx)));
  },
});
