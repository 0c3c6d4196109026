import { quantizeRtnOn } from '../backend';
import { quantConfig } from '../layer-context';
import { oneShotStrategy } from './one-shot';

/** Round-to-nearest per (row, group); no calibration statistic. */
export const rtnLayer = oneShotStrategy({
  async compress(ctx, _l, W) {
    const q = await ctx.timer.time('compress', () => quantizeRtnOn(ctx.kernels, W, quantConfig(ctx, W.cols)));
    return { weight: q.weight, q };
  },
});
