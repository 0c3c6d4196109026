import { tapWidth, type LinearId } from '../../../model/spec';
import { LINEAR_INPUT } from '../../reference/block';
import { groupLayout } from '../../reference/quantizer';
import { createStats, gptqOn } from '../backend';
import { finishLinear } from '../finish-linear';
import { checkStatistic } from '../finite';
import { forwardCompressed, pass, samplesFor, weightMatrix, type LayerStrategy } from '../layer-context';

/** GPTQ's true-sequential order for Llama (AutoGPTQ `inside_layer_modules`). */
export const TRUE_SEQUENTIAL: LinearId[][] = [['k_proj', 'v_proj', 'q_proj'], ['o_proj'], ['up_proj', 'gate_proj'], ['down_proj']];

/** GPTQ, true-sequential: each group's Hessian comes from a pass with the earlier groups already quantized. */
export const gptqLayer: LayerStrategy = async (ctx) => {
  const s = ctx.settings;
  if (!('bits' in s)) throw new Error('gptq needs bits');
  for (const group of TRUE_SEQUENTIAL) {
    const tap = LINEAR_INPUT[group[0]];
    const stats = createStats(ctx.kernels, tapWidth(ctx.spec, tap), { hessian: true, wanda: false, absMean: false });
    try {
      const samples = samplesFor(ctx, [tap]);
      await pass(
        ctx,
        ctx.lw,
        { taps: [tap], stats: { [tap]: stats }, samples, until: tap },
        `block forward for the Hessian of ${group.join('/')}`,
      );
      const Hsum = checkStatistic(ctx.layer, 'Hessian', tap, await ctx.timer.time('stats', () => stats.hessian()));
      for (const l of group) {
        ctx.signal?.throwIfAborted();
        ctx.progress('compress', l, `GPTQ ${l}`);
        const started = performance.now();
        const W = weightMatrix(ctx, l);
        const H = Hsum.slice();
        ctx.onHessian?.(ctx.layer, l, H);
        const r = await ctx.timer.time('compress', () =>
          gptqOn(ctx.kernels, W, H, {
            bits: s.bits,
            groupSize: groupLayout(W.cols, s.groupSize).groupSize,
            sym: s.sym,
            actOrder: s.actOrder,
            percdamp: s.percdamp,
            blockSize: s.blockSize,
            factors: ctx.factors,
          }),
        );
        await finishLinear(ctx, l, W, r.weight, samples[tap]!.matrix(), started, { q: r, solver: r.report });
      }
    } finally {
      stats.destroy();
    }
  }
  return forwardCompressed(ctx);
};
