import { BLOCK_TAPS, LINEAR_IDS, linearWeightName, tapWidth, type BlockTap, type LinearId } from '../../../model/spec';
import {
  applyClip,
  awqLinearLossFor,
  awqScaledFakeQuant,
  awqScalesVo,
  clippedGroupShare,
  divideColumns,
  foldAwqScales,
  scaleColumns,
  searchAwqScales,
  squaredErrorF32,
  type AwqSearchResult,
} from '../../reference/awq';
import { attention, LINEAR_INPUT, linearF32Sums, mlp, type LayerTensors } from '../../reference/block';
import { matrix, type Matrix } from '../../reference/types';
import { awqClipSearchOn, createStats, quantizeRtnOn, type Stats } from '../backend';
import { finishLinear } from '../finish-linear';
import { checkStatistic } from '../finite';
import { pass, quantConfig, weightMatrix, type LayerContext, type LayerStrategy } from '../layer-context';
import type { SubBlock, SubBlockLoss } from '../runner-types';

/**
 * AWQ per layer (llm-awq `auto_scale_block`, `apply_scale`, `auto_clip_block`): one dense pass
 * keeps every linear's input; four scale searches on the dense weights; scales folded into the
 * norms and previous linears (inputs divided accordingly); clip search for all but q and k;
 * then every linear quantized. The next layer sees the dense outputs.
 */
export const awqLayer: LayerStrategy = async (ctx) => {
  const s = ctx.settings;
  if (!('bits' in s)) throw new Error('awq needs bits');
  const { spec } = ctx;
  const L = ctx.seqLen;
  const N = ctx.hidden.length;
  const keep = {} as Record<BlockTap, Float32Array>;
  for (const t of BLOCK_TAPS) keep[t] = new Float32Array(N * L * tapWidth(spec, t));
  const next: Float32Array[] = new Array(N);
  const xMean = await denseInputs(ctx, keep, next);
  const dense = new Map(ctx.lw);
  const sample = (t: BlockTap, n: number) => keep[t].subarray(n * L * tapWidth(spec, t), (n + 1) * L * tapWidth(spec, t));

  /** Each linear's candidate buffer, reused by every candidate of its search (the loss reads it before the next). */
  const candidates = new Map<LinearId, Float32Array>();
  /** The search candidate Q(W·diag s)·diag s⁻¹ of linear `l` on the chosen kernels. */
  const candidate = async (l: LinearId, Wm: Matrix, sc: Float32Array): Promise<Float32Array> => {
    if (ctx.kernels.kind !== 'webgpu') {
      let into = candidates.get(l);
      if (!into) candidates.set(l, (into = new Float32Array(Wm.data.length)));
      return awqScaledFakeQuant(Wm, sc, quantConfig(ctx, Wm.cols), into).data;
    }
    const q = (await quantizeRtnOn(ctx.kernels, scaleColumns(Wm, sc), quantConfig(ctx, Wm.cols))).weight.data;
    divideColumns(q, sc);
    return q;
  };
  const searches: { name: string; result: AwqSearchResult; linears: LinearId[] }[] = [];
  /** The candidate loss: on the block runner's device when it offers one, else the TypeScript sub-block `out` (fp32 sums, as on the device). */
  const lossOf = async (sub: SubBlock, tap: BlockTap, out: SubBlockOut): Promise<SubBlockLoss> => {
    if (ctx.runner.subBlockLoss) return ctx.runner.subBlockLoss(ctx.layer, sub, keep[tap], N, L, dense);
    const targets = Array.from({ length: N }, (_, n) => out(dense, n));
    // A candidate's outputs are read once, so a linear's go into one buffer (the targets keep their own).
    let scratch: Float32Array | undefined;
    return {
      async sum(lw) {
        let e = 0;
        for (let n = 0; n < N; n++) {
          scratch = out(lw, n, scratch);
          e += squaredErrorF32(scratch, targets[n]);
        }
        return e;
      },
      destroy() {},
    };
  };
  /**
   * A one-linear search's loss on the CPU, one module call per candidate (`awqLinearLossFor`, its
   * operands put in once): the candidate, its outputs over every sample and the squared errors
   * summed sample by sample, the sums `lossOf` adds up.
   */
  const linearLossOf = (l: LinearId, tap: BlockTap, out: SubBlockOut) => {
    const W = weightMatrix(ctx, l);
    const X = matrix(N * L, tapWidth(spec, tap), keep[tap]);
    const target = new Float32Array(N * L * W.rows);
    for (let n = 0; n < N; n++) target.set(out(dense, n), n * L * W.rows);
    const cfg = quantConfig(ctx, W.cols);
    return awqLinearLossFor(X, W, cfg, target, L);
  };
  const search = async (name: string, linears: LinearId[], tap: BlockTap, sub: SubBlock, out: SubBlockOut) => {
    ctx.signal?.throwIfAborted();
    ctx.progress('awq-search', linears[0], `AWQ scale search ${name}`);
    const result = await ctx.timer.time('awq-search', async () => {
      const total = N * L * spec.hiddenSize;
      if (sub.kind === 'linear' && ctx.kernels.kind !== 'webgpu' && !ctx.runner.subBlockLoss) {
        const loss = linearLossOf(sub.linear, tap, out);
        return await searchAwqScales(xMean[tap], (sc) => {
          ctx.signal?.throwIfAborted();
          return loss(sc) / total;
        });
      }
      const loss = await lossOf(sub, tap, out);
      try {
        return await searchAwqScales(xMean[tap], async (sc) => {
          ctx.signal?.throwIfAborted();
          const lw = new Map(dense);
          for (const l of linears) lw.set(linearWeightName(l), await candidate(l, weightMatrix(ctx, l), sc));
          return (await loss.sum(lw)) / total;
        });
      } finally {
        loss.destroy();
      }
    });
    searches.push({ name, result, linears });
    return result.scales;
  };

  const { norms } = spec.block;
  const Hd = spec.hiddenSize;
  // 1. the norm feeding q, k, v (loss on the attention output).
  const attnIn = await search(
    `${norms.attnIn}→q/k/v`,
    ['q_proj', 'k_proj', 'v_proj'],
    'q_proj_in',
    { kind: 'attention' },
    (lw, n) => attention(spec, ctx.layer, lw, sample('q_proj_in', n), L, true, linearF32Sums).out!,
  );
  // 2. v_proj → o_proj, only when the shapes match (skipped under GQA).
  const oIn = spec.numHeads * spec.headDim;
  const vo = awqScalesVo(spec)
    ? await search('v_proj→o_proj', ['o_proj'], 'o_proj_in', { kind: 'linear', linear: 'o_proj' }, (lw, n, into) =>
        linearF32Sums(sample('o_proj_in', n), lw.get(linearWeightName('o_proj'))!, L, oIn, Hd, undefined, into),
      )
    : null;
  // 3. the norm feeding gate, up (loss on the MLP output); Gemma's post-attention norm feeds nothing scaled.
  const mlpIn = await search(
    `${norms.mlpIn}→gate/up`,
    ['gate_proj', 'up_proj'],
    'gate_proj_in',
    { kind: 'mlp' },
    (lw, n) => mlp(spec, lw, sample('gate_proj_in', n), L, true, linearF32Sums).out!,
  );
  // 4. up_proj → down_proj.
  const I = spec.intermediateSize;
  const upDown = await search('up_proj→down_proj', ['down_proj'], 'down_proj_in', { kind: 'linear', linear: 'down_proj' }, (lw, n, into) =>
    linearF32Sums(sample('down_proj_in', n), lw.get(linearWeightName('down_proj'))!, L, I, Hd, undefined, into),
  );

  await ctx.timer.time('awq-fold', () => foldAwqScales(spec, ctx.layer, ctx.lw, { attnIn, vo, mlpIn, upDown }, keep));

  const searchOf = (l: LinearId) => searches.find((x) => x.linears.includes(l));
  for (const l of LINEAR_IDS) {
    ctx.signal?.throwIfAborted();
    const started = performance.now();
    const Ws = weightMatrix(ctx, l); // scaled, not yet clipped or quantized
    const tap = LINEAR_INPUT[l];
    const cols = tapWidth(spec, tap);
    const Xm = matrix(N * L, cols, keep[tap]);
    const cfg = quantConfig(ctx, cols);
    let toQuantize = Ws;
    let clippedGroups: number | undefined;
    if (l !== 'q_proj' && l !== 'k_proj') {
      ctx.progress('awq-clip', l, `AWQ clip search ${l}`);
      const maxVal = await ctx.timer.time('awq-clip', () =>
        awqClipSearchOn(ctx.kernels, Ws, Xm, cfg, { sampleTokens: ctx.awqClipSampleTokens }),
      );
      toQuantize = applyClip(Ws, maxVal, cfg.groupSize);
      clippedGroups = clippedGroupShare(Ws, maxVal, cfg.groupSize);
    }
    ctx.progress('compress', l, `AWQ quantize ${l}`);
    const q = await ctx.timer.time('compress', () => quantizeRtnOn(ctx.kernels, toQuantize, cfg));
    const sr = searchOf(l);
    const errRows = Math.min(ctx.errorTokens, N * L);
    const errX = matrix(errRows, cols, keep[tap].subarray(0, errRows * cols));
    await finishLinear(ctx, l, Ws, q.weight, errX, started, {
      q,
      awq: {
        search: sr?.name ?? 'none (v_proj→o_proj skipped: shapes differ under GQA)',
        ratio: sr?.result.ratio ?? -1,
        loss: sr?.result.loss ?? NaN,
        fallback: sr?.result.fallback ?? true,
        ...(clippedGroups !== undefined ? { clippedGroups } : {}),
      },
    });
  }
  return next;
};

/**
 * A searched sub-block's output for calibration sample `n` under weights `lw`; `into`, when the
 * output is a single linear's, is a buffer it may write instead of allocating (the same size each call).
 */
type SubBlockOut = (lw: LayerTensors, n: number, into?: Float32Array) => Float32Array;

/** The dense pass: keeps every tap's activations and the layer outputs, returns mean |x| per tap. */
async function denseInputs(
  ctx: LayerContext,
  keep: Record<BlockTap, Float32Array>,
  next: Float32Array[],
): Promise<Record<BlockTap, Float32Array>> {
  const stats: Partial<Record<BlockTap, Stats>> = {};
  for (const t of BLOCK_TAPS) stats[t] = createStats(ctx.kernels, tapWidth(ctx.spec, t), { hessian: false, wanda: false, absMean: true });
  const xMean = {} as Record<BlockTap, Float32Array>;
  try {
    await pass(
      ctx,
      ctx.lw,
      { taps: [...BLOCK_TAPS], stats, until: 'out', keep, out: next },
      'dense block forward (inputs of every linear)',
    );
    for (const t of BLOCK_TAPS)
      xMean[t] = checkStatistic(ctx.layer, 'mean |x|', t, (await ctx.timer.time('stats', () => stats[t]!.absMean())).slice());
  } finally {
    for (const st of Object.values(stats)) st?.destroy();
  }
  return xMean;
}
