import { BLOCK_TAPS, LINEAR_IDS, tapWidth, type BlockTap, type LinearId, type ModelSpec } from '../model/spec';
import { typeScriptBlockRunner } from '../compress/engine/block-runner';
import { embedCalibration, mapSource } from '../compress/engine/layer-source';
import {
  awqClipSearchOn,
  createStats,
  gptqOn,
  magnitudeOn,
  quantizeRtnOn,
  sparsegptOn,
  wandaOn,
  type Kernels,
  type Stats,
} from '../compress/engine/backend';
import { applyClip, awqConfig, awqLinearLossFor, divideColumns, scaleColumns, searchAwqScales } from '../compress/reference/awq';
import { LINEAR_INPUT, linearF32Sums, linearWeight } from '../compress/reference/block';
import { groupLayout, type QuantConfig } from '../compress/reference/quantizer';
import type { ResolvedSettings } from '../compress/reference/settings';
import { matrix, type Matrix } from '../compress/reference/types';
import { gpuLinearLoss } from '../gpu/output-error';

/**
 * The per-linear problems of the reference benchmark: every linear of the first layers of a
 * model with the inputs our engine's calibration path gives it (embedding rows of the
 * calibration tokens, then the TypeScript block forward on dense weights), and our engine's
 * kernels run on them one linear at a time, the form the Python reference
 * (`bench/reference/`) implements. Nothing is true-sequential here: GPTQ's Hessians all come
 * from the dense pass, and each layer's inputs from the dense layer before it.
 */

export interface LinearCase {
  /** `L<layer>.<linear>`, also the file name of its weight. */
  name: string;
  layer: number;
  linear: LinearId;
  /** The name of its input in `ReferenceProblem.taps` (q/k/v share one, gate/up another). */
  tap: string;
  W: Matrix;
}

export interface ReferenceProblem {
  samples: number;
  seqLen: number;
  /** Each input, tokens × in: the samples one after another. */
  taps: Map<string, Matrix>;
  linears: LinearCase[];
}

export function tapName(layer: number, tap: BlockTap): string {
  return `L${layer}.${tap}`;
}

/** Runs the engine's calibration capture (embedding, then the TypeScript block forward) over `layers` layers. */
export async function captureProblem(
  spec: ModelSpec,
  weights: ReadonlyMap<string, Float32Array>,
  calibration: readonly (readonly number[])[],
  layers: number,
): Promise<ReferenceProblem> {
  const source = mapSource(weights);
  const N = calibration.length;
  const L = calibration[0].length;
  const runner = typeScriptBlockRunner(spec);
  let hidden = await embedCalibration(spec, source, calibration);
  const taps = new Map<string, Matrix>();
  const linears: LinearCase[] = [];
  for (let i = 0; i < layers; i++) {
    const lw = await source.layer(i);
    const keep = new Map(BLOCK_TAPS.map((t) => [t, new Float32Array(N * L * tapWidth(spec, t))]));
    const next: Float32Array[] = new Array(N);
    await runner.run(i, lw, hidden, L, 'out', (s, out) => {
      for (const t of BLOCK_TAPS) {
        const w = tapWidth(spec, t);
        keep.get(t)!.set(out[t]!.subarray(0, L * w), s * L * w);
      }
      next[s] = out.out!;
    });
    for (const t of BLOCK_TAPS) taps.set(tapName(i, t), matrix(N * L, tapWidth(spec, t), keep.get(t)!));
    for (const l of LINEAR_IDS)
      linears.push({ name: `L${i}.${l}`, layer: i, linear: l, tap: tapName(i, LINEAR_INPUT[l]), W: linearWeight(spec, lw, l, i) });
    hidden = next;
  }
  return { samples: N, seqLen: L, taps, linears };
}

/** A linear after compression: the effective weight (AWQ: scales divided back out) and, when pruned, the mask. */
export interface LinearOutput {
  weight: Float32Array;
  mask?: Uint8Array;
}

/** Linears whose AWQ clip search is skipped (llm-awq and our engine). */
const AWQ_NO_CLIP: readonly LinearId[] = ['q_proj', 'k_proj'];

/**
 * Our engine's kernels for one method on every linear of `problem`: statistics from each
 * input (once per shared input, one sample at a time as the driver adds them), then the
 * method per linear. AWQ is the per-linear form of `bench/reference/awq.py`: each linear's
 * scales searched on its own output, folded into its columns and inputs, clip search except
 * for q and k, then the AWQ quantizer.
 */
export async function compressLinears(
  kernels: Kernels,
  settings: ResolvedSettings,
  problem: ReferenceProblem,
): Promise<Map<string, LinearOutput>> {
  const { samples, seqLen } = problem;
  const wants = {
    hessian: settings.method === 'gptq' || settings.method === 'sparsegpt',
    wanda: settings.method === 'wanda',
    absMean: settings.method === 'awq',
  };
  const stats = new Map<string, Stats>();
  const statOf = (tap: string): Stats => {
    let st = stats.get(tap);
    if (!st) {
      const X = problem.taps.get(tap)!;
      st = createStats(kernels, X.cols, wants);
      for (let s = 0; s < samples; s++) st.add(matrix(seqLen, X.cols, X.data.subarray(s * seqLen * X.cols, (s + 1) * seqLen * X.cols)), 1);
      stats.set(tap, st);
    }
    return st;
  };
  const read = new Map<string, Float32Array>();
  const statistic = async (tap: string, which: 'hessian' | 'wanda' | 'absMean'): Promise<Float32Array> => {
    let v = read.get(tap);
    if (!v) read.set(tap, (v = await statOf(tap)[which]()));
    return v;
  };
  const out = new Map<string, LinearOutput>();
  try {
    for (const lin of problem.linears) {
      const { W } = lin;
      if ('bits' in settings) {
        const cfg: QuantConfig =
          settings.method === 'awq'
            ? awqConfig(settings.bits, settings.groupSize, !settings.sym)
            : { bits: settings.bits, groupSize: groupLayout(W.cols, settings.groupSize).groupSize, sym: settings.sym, variant: 'gptq' };
        if (settings.method === 'rtn') out.set(lin.name, { weight: (await quantizeRtnOn(kernels, W, cfg)).weight.data });
        else if (settings.method === 'gptq') {
          const H = (await statistic(lin.tap, 'hessian')).slice();
          const r = await gptqOn(kernels, W, H, {
            bits: settings.bits,
            groupSize: cfg.groupSize,
            sym: settings.sym,
            actOrder: settings.actOrder,
            percdamp: settings.percdamp,
            blockSize: settings.blockSize,
          });
          out.set(lin.name, { weight: r.weight.data });
        } else {
          const X = problem.taps.get(lin.tap)!;
          const xMean = await statistic(lin.tap, 'absMean');
          out.set(lin.name, { weight: await awqLinear(kernels, W, X, xMean, cfg, !AWQ_NO_CLIP.includes(lin.linear)) });
        }
      } else {
        const sp = settings.sparsity;
        const r =
          settings.method === 'magnitude'
            ? await magnitudeOn(kernels, W, sp)
            : settings.method === 'wanda'
              ? await wandaOn(kernels, W, await statistic(lin.tap, 'wanda'), sp)
              : await sparsegptOn(kernels, W, (await statistic(lin.tap, 'hessian')).slice(), {
                  sparsity: sp,
                  percdamp: settings.percdamp,
                  blockSize: settings.blockSize,
                });
        out.set(lin.name, { weight: r.weight.data, mask: r.mask });
      }
    }
  } finally {
    for (const st of stats.values()) st.destroy();
  }
  return out;
}

/** AWQ on one linear: scale search on its own output, fold, clip search (unless `clip` is false), quantize; the effective weight. */
async function awqLinear(
  kernels: Kernels,
  W: Matrix,
  X: Matrix,
  xMean: Float32Array,
  cfg: QuantConfig,
  clip: boolean,
): Promise<Float32Array> {
  const T = X.rows;
  const Y = linearF32Sums(X.data, W.data, T, W.cols, W.rows);
  let search: Awaited<ReturnType<typeof searchAwqScales>>;
  if (kernels.kind !== 'webgpu') {
    const loss = awqLinearLossFor(X, W, cfg, Y);
    search = await searchAwqScales(xMean, (s) => loss(s) / Y.length);
  } else {
    // On the GPU as the engine's own search: the candidate quantized there, its outputs and their
    // error computed there against the dense outputs, X and Y uploaded once.
    const loss = gpuLinearLoss(kernels.device, X, W.rows, Y);
    try {
      search = await searchAwqScales(xMean, async (s) => {
        const q = (await quantizeRtnOn(kernels, scaleColumns(W, s), cfg)).weight.data;
        divideColumns(q, s);
        return (await loss.sum(q)) / Y.length;
      });
    } finally {
      loss.destroy();
    }
  }
  const s = search.scales;
  const Ws = scaleColumns(W, s);
  let toQuantize = Ws;
  if (clip) {
    const Xs = X.data.slice();
    divideColumns(Xs, s);
    toQuantize = applyClip(Ws, await awqClipSearchOn(kernels, Ws, matrix(T, X.cols, Xs), cfg), cfg.groupSize);
  }
  const q = (await quantizeRtnOn(kernels, toQuantize, cfg)).weight.data.slice();
  divideColumns(q, s);
  return q;
}

/** How far our output is from the reference's on one linear (or summed over several). */
export interface Agreement {
  /** ‖W_ours − W_ref‖_F / ‖W − W_ref‖_F: the disagreement as a share of the change the reference made. */
  relError: number;
  /** Share of entries whose value differs at all. */
  differing: number;
  /** Share of entries whose pruning decision differs (pruning methods). */
  maskMismatch?: number;
}

/** Accumulates the sums behind `Agreement` over linears. */
export class AgreementSum {
  private diff2 = 0;
  private change2 = 0;
  private differ = 0;
  private total = 0;
  private maskDiffer = 0;
  private masks = 0;

  add(dense: Float32Array, ours: LinearOutput, ref: LinearOutput): void {
    const a = ours.weight;
    const b = ref.weight;
    if (a.length !== b.length || a.length !== dense.length) throw new Error(`agreement: sizes ${dense.length}, ${a.length}, ${b.length}`);
    for (let i = 0; i < a.length; i++) {
      const d = a[i] - b[i];
      const c = dense[i] - b[i];
      this.diff2 += d * d;
      this.change2 += c * c;
      if (a[i] !== b[i]) this.differ++;
    }
    this.total += a.length;
    if (ours.mask && ref.mask) {
      for (let i = 0; i < ours.mask.length; i++) if (ours.mask[i] !== ref.mask[i]) this.maskDiffer++;
      this.masks += ours.mask.length;
    }
  }

  result(): Agreement {
    return {
      relError: this.change2 > 0 ? Math.sqrt(this.diff2 / this.change2) : Math.sqrt(this.diff2),
      differing: this.total ? this.differ / this.total : 0,
      ...(this.masks ? { maskMismatch: this.maskDiffer / this.masks } : {}),
    };
  }
}
