import { simdPool } from '../compress/reference/simd-helpers';
import { createBlockRunner } from '../compress/engine/block-runner';
import { compressLayers } from '../compress/engine/driver';
import { mapSource } from '../compress/engine/layer-source';
import type { ForwardKind } from '../compress/engine/runner-types';
import { TYPESCRIPT_KERNELS, type Kernels } from '../compress/engine/backend';
import { resolveSettings, settingsLabel, type CompressSettings, type Method } from '../compress/reference/settings';
import { describeAdapter, requestDevice } from '../gpu/device';
import { describeDivision, divisionCheckOf } from '../gpu/division';
import { gemmKernelOf, type GemmKernel } from '../gpu/gemm';
import { randomWeights } from '../model/random-model';
import { seededRandom } from '../util/rng';
import { smollm2Spec } from './decode';

/** SmolLM2-135M has 30 decoder layers; the benchmark extrapolates per-layer times to them. */
export const SMOLLM2_LAYERS = 30;

export interface CompressBenchOptions {
  /** Decoder layers to compress (default all 30; fewer for a quick look, see `estimatedFullMs`). */
  layers?: number;
  samples?: number;
  seqLen?: number;
  methods?: Method[];
  /** Settings to time instead of `methods` at `BENCH_SETTINGS` (e.g. the paper's grid: 3, 4 and 8 bits). */
  settings?: CompressSettings[];
  kernels?: ('webgpu' | 'typescript')[];
  /** Block forward of the calibration passes (default `typescript`). */
  forward?: ForwardKind;
  /** Block forwards timed on one pass of layer 0 (default TypeScript, ORT on WASM and, with a device, WGSL; ORT's WASM build does not load in Node). */
  forwardPasses?: ForwardKind[];
  onStatus?: (msg: string) => void;
}

export interface CompressBenchRow {
  method: Method;
  settings: string;
  kernels: 'webgpu' | 'typescript';
  forward: ForwardKind;
  layers: number;
  msPerLayer: number;
  /** Capture + all layers compressed (nothing stored). */
  totalMs: number;
  /** Per-layer time × 30 + capture: the whole SmolLM2-135M. */
  estimatedFullMs: number;
  phases: Record<string, number>;
}

export interface CompressBenchResult {
  model: string;
  adapter: string | null;
  /** How the adapter divides in the quantizer (`gpu/division.ts`), when the WGSL kernels ran. */
  division?: string;
  /** The GEMM kernel the adapter was given (`gpu/gemm.ts`), when the WGSL kernels ran. */
  gemm?: GemmKernel;
  samples: number;
  seqLen: number;
  layers: number;
  rows: CompressBenchRow[];
  /** TypeScript time over WebGPU time per method (above 1: the GPU path is faster). */
  ratios: Partial<Record<Method, number>>;
  /** One full calibration pass of layer 0 per block forward (ORT: session creation included). */
  forwardPass: Partial<Record<ForwardKind, number>>;
  /** Threads the CPU kernels use: this one and its helpers (`simd-helpers.ts`). */
  cpuThreads: number;
}

export const BENCH_SETTINGS: Record<Method, CompressSettings> = {
  rtn: { method: 'rtn', bits: 4, groupSize: 128 },
  gptq: { method: 'gptq', bits: 4, groupSize: 128 },
  awq: { method: 'awq', bits: 4, groupSize: 128 },
  magnitude: { method: 'magnitude', sparsity: { n: 2, m: 4 } },
  wanda: { method: 'wanda', sparsity: { n: 2, m: 4 } },
  sparsegpt: { method: 'sparsegpt', sparsity: { n: 2, m: 4 } },
};

/**
 * Compression time per method on a SmolLM2-135M-shaped model with random weights, the WGSL
 * kernels against their TypeScript references in the same run.
 */
export async function benchCompress(opts: CompressBenchOptions = {}): Promise<CompressBenchResult> {
  const layers = Math.max(1, Math.min(SMOLLM2_LAYERS, opts.layers ?? SMOLLM2_LAYERS));
  const samples = opts.samples ?? 4;
  const seqLen = opts.seqLen ?? 64;
  const methods = opts.methods ?? (['rtn', 'gptq', 'awq', 'magnitude', 'wanda', 'sparsegpt'] as Method[]);
  const cells = opts.settings ?? methods.map((m) => BENCH_SETTINGS[m]);
  const forward = opts.forward ?? 'typescript';
  const spec = smollm2Spec(layers);
  opts.onStatus?.(`random SmolLM2-135M-shaped weights, ${layers} of ${SMOLLM2_LAYERS} layers, calibration ${samples} × ${seqLen} tokens`);
  const weights = randomWeights(spec, 11);
  const rand = seededRandom(5);
  const calibration = Array.from({ length: samples }, () => Array.from({ length: seqLen }, () => Math.floor(rand() * spec.vocabSize)));
  const report = await describeAdapter();
  const adapter = report.available ? [report.vendor, report.architecture].filter(Boolean).join(' · ') || 'unnamed adapter' : null;
  const device = report.available && (opts.kernels ?? ['webgpu']).includes('webgpu') ? await requestDevice() : null;
  const kernelKinds = (opts.kernels ?? ['webgpu', 'typescript']).filter((k) => k === 'typescript' || device);
  const rows: CompressBenchRow[] = [];
  try {
    // The block forwards on one calibration pass of layer 0.
    const forwardPass: CompressBenchResult['forwardPass'] = {};
    const source = mapSource(weights);
    const lw = await source.layer(0);
    const embed = weights.get('model.embed_tokens.weight')!;
    const H = spec.hiddenSize;
    const hidden = calibration.map((ids) => {
      const x = new Float32Array(seqLen * H);
      ids.forEach((id, t) => x.set(embed.subarray(id * H, (id + 1) * H), t * H));
      return x;
    });
    for (const kind of opts.forwardPasses ?? (['typescript', 'ort-wasm', ...(device ? (['webgpu'] as const) : [])] as const)) {
      if (kind === 'webgpu' && !device) continue;
      opts.onStatus?.(`block forward: ${kind}`);
      const runner = await createBlockRunner(kind, spec, device ? { kind: 'webgpu', device } : TYPESCRIPT_KERNELS);
      const t0 = performance.now();
      await runner.run(0, lw, hidden, seqLen, 'out', () => undefined);
      forwardPass[kind] = performance.now() - t0;
      await runner.dispose();
    }

    for (const cell of cells) {
      const method = cell.method;
      for (const k of kernelKinds) {
        const kernels: Kernels = k === 'webgpu' && device ? { kind: 'webgpu', device } : TYPESCRIPT_KERNELS;
        const settings = resolveSettings(cell);
        opts.onStatus?.(`${settingsLabel(settings)} with ${k} kernels`);
        const r = await compressLayers({
          spec,
          source,
          calibration,
          settings,
          kernels,
          forward,
          onProgress: (p) => p.phase === 'layer' && p.linearsDone === 7 && opts.onStatus?.(`  ${p.message}`),
        });
        const msPerLayer = r.timings.layersMs / layers;
        rows.push({
          method,
          settings: settingsLabel(r.settings),
          kernels: k,
          forward: r.forward,
          layers,
          msPerLayer,
          totalMs: r.timings.totalMs,
          estimatedFullMs: r.timings.captureMs + msPerLayer * SMOLLM2_LAYERS,
          phases: Object.fromEntries(Object.entries(r.timings.phases).map(([p, ms]) => [p, ms / layers])),
        });
      }
    }
    const ratios: CompressBenchResult['ratios'] = {};
    for (const m of new Set(cells.map((c) => c.method))) {
      const gpu = rows.find((r) => r.method === m && r.kernels === 'webgpu');
      const ts = rows.find((r) => r.method === m && r.kernels === 'typescript' && r.settings === gpu?.settings);
      if (gpu && ts) ratios[m] = ts.msPerLayer / gpu.msPerLayer;
    }
    return {
      model: `SmolLM2-135M shape (random weights), ${layers}/${SMOLLM2_LAYERS} layers`,
      adapter,
      ...(device ? { division: describeDivision(divisionCheckOf(device)), gemm: gemmKernelOf(device) } : {}),
      samples,
      seqLen,
      layers,
      rows,
      ratios,
      forwardPass,
      cpuThreads: 1 + (simdPool()?.helpers ?? 0),
    };
  } finally {
    device?.destroy();
  }
}
