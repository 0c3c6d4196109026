import { compressLayers } from '../compress/engine/driver';
import type { LayerSource } from '../compress/engine/layer-source';
import type { DriverProgress, LayerTiming, LinearReport } from '../compress/engine/report';
import type { ForwardKind } from '../compress/engine/runner-types';
import { TYPESCRIPT_KERNELS, type Kernels } from '../compress/engine/backend';
import { resolveSettings, type CompressSettings, type SettingsText } from '../compress/reference/settings';
import { describeAdapter, isSoftwareAdapter, prepareDevice, requestDevice } from '../gpu/device';
import { describeDivision, divisionCheckOf } from '../gpu/division';
import { isDeviceLost, isGpuError, watchDevice } from '../gpu/faults';
import { loadCausalLm, type Device } from '../infer/causal-lm';
import { checkWasm, estimateWasm, fp32Footprint, WASM_ADDRESS_SPACE } from '../infer/memory-budget';
import { OPTIONAL_FILES, openCachedModel, openWeights } from '../model/download';
import type { LinearId, ModelSpec } from '../model/spec';
import { loadTokenizer } from '../model/tokenizer';
import type { ShardCache } from '../storage/shard-cache';
import {
  builtinDocuments,
  defaultCalibrationSize,
  documents,
  fetchCalibrationText,
  parameterCount,
  selfCalibration,
  tokenWindows,
  type CalibrationSet,
  type CalibrationSource,
} from './calibration';
import { keptLayers, removeCheckpoints, saveCheckpoint, type CheckpointContext } from './layer-checkpoint';
import type { VariantReport } from './report';
import { memoizedCalibration, selfCalibrationKey } from './calibration-memo';
import { readVariantReport, variantKey, variantLabel, VariantWriter, type StoreProgressFn } from './store';

export interface CompressRequest {
  settings: CompressSettings;
  calibration: CalibrationSource;
  /** Calibration samples; default from `defaultCalibrationSize`. */
  samples?: number;
  /** Tokens per sample; default min(512, context). */
  seqLen?: number;
  /** Seeds the calibration windows and self-generated samples. Default 0. */
  seed?: number;
  /** `auto` (default): the WGSL kernels wherever WebGPU gives a device (software adapters too), TypeScript otherwise. */
  kernels?: 'auto' | 'webgpu' | 'typescript';
  /** Block forward for calibration passes; `auto` picks by the work per pass. */
  forward?: 'auto' | ForwardKind;
  /** Where self-generated calibration is sampled; default `selfCalibrationDevice`. */
  generateDevice?: Device;
  /**
   * Also store the packed graph with fp16 weights and scales (`onnx/model_fp16.onnx`), which a
   * WebGPU adapter with `shader-f16` then runs. Default: when this machine's adapter offers it.
   */
  halfGraph?: boolean;
}

/** What `ctlab compress` asks for (the page's and the Node runtime's): settings still as text, for `settingsFromText`. */
export type CompressCommand = Omit<CompressRequest, 'settings'> & { settings: SettingsText };

export interface CompressProgress {
  phase: 'calibration' | 'compress' | 'store' | 'done';
  fraction: number;
  message: string;
  layer?: number;
  layers?: number;
  linear?: LinearId;
  /** Store phase: bytes of `file` written so far, of `total`. */
  file?: string;
  done?: number;
  total?: number;
}

export interface CompressRunOptions {
  signal?: AbortSignal;
  onProgress?: (p: CompressProgress) => void;
  /** A device to use instead of requesting one (tests); it is not destroyed. */
  device?: GPUDevice;
  /** Return a complete stored variant of the same settings and calibration instead of recomputing it. */
  reuse?: boolean;
  /** Test hooks passed to the driver. */
  onHessian?: Parameters<typeof compressLayers>[0]['onHessian'];
  errorTokens?: number;
}

/**
 * Work per calibration pass above which the one-block ONNX graph on WASM beats the TypeScript
 * forward despite a session per weight set (measured on stories260k and a SmolLM2-135M-shaped
 * layer; see `npm run bench:compress`): multiply-adds of one layer over all calibration tokens.
 * A SmolLM2-135M layer over 2048 tokens costs about the same either way (the session's set-up
 * eats ORT's faster kernels), while over four times as many tokens ORT's pass takes well under
 * half as long, so ORT pays from about that size up.
 */
export const ORT_FORWARD_THRESHOLD = 4e9;

/**
 * With WebGPU kernels on a hardware adapter the WGSL block forward keeps the calibration passes
 * and AWQ's candidate losses on the GPU. On a software adapter (SwiftShader) it is the CPU
 * again, where the TypeScript forward measured about 4× faster (`npm run bench:compress`).
 */
export function chooseForward(spec: ModelSpec, samples: number, seqLen: number, hardwareGpu = false): ForwardKind {
  if (hardwareGpu) return 'webgpu';
  const perToken = (parameterCount(spec) - spec.vocabSize * spec.hiddenSize * (spec.tiedEmbeddings ? 1 : 2)) / spec.numLayers;
  return perToken * samples * seqLen > ORT_FORWARD_THRESHOLD ? 'ort-wasm' : 'typescript';
}

// `auto` runs the WGSL kernels on any adapter, SwiftShader included: they have no workgroup
// barriers in their loops, and `npm run bench:compress` measures them within 20% of the
// TypeScript references on a software adapter (faster for AWQ). TypeScript is the fallback
// when WebGPU is missing or refuses a device.
export async function resolveKernels(
  want: CompressRequest['kernels'],
  device?: GPUDevice,
): Promise<{ kernels: Kernels; adapter: string | null; owned: GPUDevice | null; note?: string; software?: boolean }> {
  if (want === 'typescript') return { kernels: TYPESCRIPT_KERNELS, adapter: null, owned: null };
  const report = await describeAdapter();
  const adapter = report.available ? [report.vendor, report.architecture].filter(Boolean).join(' · ') || 'unnamed adapter' : null;
  // A device lost in an earlier run is never reused: its buffers and pipelines are gone.
  if (device) watchDevice(device);
  const software = isSoftwareAdapter(report);
  if (device && !isDeviceLost(device)) {
    await prepareDevice(device);
    return { kernels: { kind: 'webgpu', device }, adapter, owned: null, software };
  }
  if (!report.available) {
    if (want === 'webgpu') throw new Error(`WebGPU kernels were requested but WebGPU is unavailable: ${report.reason}`);
    return { kernels: TYPESCRIPT_KERNELS, adapter: null, owned: null, note: `no WebGPU (${report.reason}); TypeScript kernels` };
  }
  try {
    const d = await requestDevice();
    return { kernels: { kind: 'webgpu', device: d }, adapter, owned: d, software };
  } catch (err) {
    if (want === 'webgpu') throw err;
    return {
      kernels: TYPESCRIPT_KERNELS,
      adapter: null,
      owned: null,
      note: `WebGPU device refused (${(err as Error).message}); TypeScript kernels`,
    };
  }
}

/** Tokenised calibration samples for a cached model. */
export async function buildCalibration(
  cache: ShardCache,
  key: string,
  spec: ModelSpec,
  req: Pick<CompressRequest, 'calibration' | 'samples' | 'seqLen' | 'seed' | 'generateDevice'>,
  signal?: AbortSignal,
  onStatus?: (msg: string) => void,
): Promise<CalibrationSet> {
  const t0 = performance.now();
  const dflt = defaultCalibrationSize(spec);
  const samples = req.samples ?? dflt.samples;
  const seqLen = Math.min(req.seqLen ?? dflt.seqLen, spec.maxPositions);
  const seed = req.seed ?? 0;
  if (!(Number.isInteger(samples) && samples >= 1)) throw new Error(`samples must be a positive integer, got ${samples}`);
  if (!(Number.isInteger(seqLen) && seqLen >= 2)) throw new Error(`sequence length must be an integer ≥ 2, got ${seqLen}`);
  const notes: string[] = [];
  if (req.seqLen && req.seqLen > spec.maxPositions) notes.push(`sequence length clipped to the context of ${spec.maxPositions}`);
  const src = req.calibration;
  if (src.kind === 'self') {
    const device = selfCalibrationDevice(spec, req.generateDevice);
    if (device !== 'wasm' && !req.generateDevice)
      notes.push(
        "the dense model does not fit WASM's 4 GiB, so it wrote its samples on WebGPU; another GPU may write others from the same seed",
      );
    const downloadedAt = (await cache.manifest(key))?.createdAt ?? 0;
    const memoKey = selfCalibrationKey(key, downloadedAt, samples, seqLen, seed, device);
    const { set, reused } = await memoizedCalibration(cache, memoKey, async () => {
      onStatus?.(`loading the dense model to write calibration samples (${device === 'wasm' ? 'WASM' : 'WebGPU'})`);
      let lm;
      try {
        lm = await loadCausalLm(cache, key, { device });
      } catch (err) {
        throw new Error(
          `self-generated calibration needs the dense model to write its samples, and it cannot run here: ${(err as Error).message}. ` +
            'Calibrate on the built-in text or on a text of your own instead (ctlab: --calib builtin)',
          { cause: err },
        );
      }
      try {
        const r = await selfCalibration(lm, { samples, seqLen }, seed, signal, onStatus);
        return {
          ids: r.ids,
          samples,
          seqLen,
          seed,
          source: `self-generated by the dense model (temperature 1, seed ${seed}, ${lm.device})`,
          sourceTokens: r.sourceTokens,
          notes,
          ms: performance.now() - t0,
        };
      } finally {
        await lm.model.dispose();
      }
    });
    if (!reused) return set;
    onStatus?.('reusing the calibration samples the dense model wrote for an earlier variant');
    return {
      ...set,
      notes: [...set.notes, 'the samples the dense model wrote for an earlier variant, reused'],
      ms: performance.now() - t0,
    };
  }
  if (src.kind === 'tokens') {
    if (src.ids.length === 0) throw new Error('no calibration token ids were given');
    return {
      ids: src.ids.map((s) => s.slice()),
      samples: src.ids.length,
      seqLen: src.ids[0].length,
      seed,
      source: src.name ?? 'token ids given by the caller',
      sourceTokens: src.ids.reduce((a, s) => a + s.length, 0),
      notes,
      ms: performance.now() - t0,
    };
  }
  const tokenizer = await loadTokenizer(cache, key);
  let docs: readonly string[];
  let source: string;
  if (src.kind === 'builtin') {
    docs = builtinDocuments();
    source = `built-in set (${docs.length} paragraphs)`;
  } else if (src.kind === 'url') {
    onStatus?.(`fetching calibration text from ${src.url}`);
    docs = documents(await fetchCalibrationText(src.url, signal));
    source = `text from ${src.url}`;
  } else {
    docs = documents(src.text);
    source = `text${src.name ? ` from ${src.name}` : ''}`;
  }
  if (docs.length === 0) throw new Error('the calibration text is empty');
  const w = tokenWindows(tokenizer, docs, { samples, seqLen }, seed);
  return {
    ids: w.ids,
    samples,
    seqLen: w.seqLen,
    seed,
    source,
    sourceTokens: w.sourceTokens,
    notes: [...notes, ...w.notes],
    ms: performance.now() - t0,
  };
}

/**
 * Where self-generated calibration is sampled unless the request names a device: on WASM, whose
 * arithmetic is the same on every machine, so a seed gives the same samples everywhere; a model
 * whose dense graph does not fit WASM's address space (past ~0.8B parameters in fp32) is sampled
 * on WebGPU, the only place it runs.
 */
export function selfCalibrationDevice(spec: ModelSpec, requested?: Device, wasmLimit = WASM_ADDRESS_SPACE): Device {
  if (requested) return requested;
  return checkWasm(spec.modelType, estimateWasm(spec, fp32Footprint(spec).bytes), wasmLimit).fits ? 'wasm' : 'webgpu';
}

function calibrationTag(src: CalibrationSource, set: { samples: number; seqLen: number; seed: number }, selfOn: Device): string {
  // Text and URL sources differ by content: a short hash of it keeps their variants apart.
  const what =
    src.kind === 'text'
      ? `text${hash(src.text)}`
      : src.kind === 'url'
        ? `url${hash(src.url)}`
        : src.kind === 'tokens'
          ? `ids${hash(src.ids.map((s) => s.join(',')).join(';'))}`
          : src.kind === 'self'
            ? `${SELF_CALIBRATION_TAG}${selfOn === 'wasm' ? '' : selfOn}`
            : src.kind;
  return `${what}-${set.samples}x${set.seqLen}-s${set.seed}`;
}

/**
 * Self-generated samples are drawn by the batch decoder, each sequence from its own seeded
 * stream; they were once drawn one sequence at a time by transformers.js' sampler, which gives
 * other tokens for the same seed. Variants calibrated that way keep their `self` keys, so a
 * request never finds one compressed from samples it would not write now, and a stopped
 * compression never resumes onto other samples.
 */
const SELF_CALIBRATION_TAG = 'self2';

/** FNV-1a, 32 bits, hex. */
function hash(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h.toString(16).padStart(8, '0');
}

/**
 * Compresses a cached model into a new variant entry of the cache and returns its report. A
 * cancelled or failed run deletes the partial variant; the base model is only ever read.
 */
export async function compressCachedModel(
  cache: ShardCache,
  baseKey: string,
  req: CompressRequest,
  run: CompressRunOptions = {},
): Promise<VariantReport> {
  const t0 = performance.now();
  const { signal } = run;
  const progress = (p: CompressProgress) => run.onProgress?.(p);
  const settings = resolveSettings(req.settings);
  const base = await openCachedModel(cache, baseKey);
  if (base.manifest.source.kind === 'variant')
    throw new Error(`${base.label} is already a compressed variant; compress its base model instead`);
  const spec = base.spec;

  // The key names the settings and the calibration asked for, so a repeated request finds its variant.
  const dflt = defaultCalibrationSize(spec);
  const asked =
    req.calibration.kind === 'tokens'
      ? { samples: req.calibration.ids.length, seqLen: req.calibration.ids[0]?.length ?? 0, seed: req.seed ?? 0 }
      : { samples: req.samples ?? dflt.samples, seqLen: Math.min(req.seqLen ?? dflt.seqLen, spec.maxPositions), seed: req.seed ?? 0 };
  const key = variantKey(baseKey, settings, calibrationTag(req.calibration, asked, selfCalibrationDevice(spec, req.generateDevice)));
  const label = variantLabel(base.label, settings);
  if (run.reuse && (await cache.manifest(key))?.status === 'complete') {
    progress({ phase: 'done', fraction: 1, message: `${label} is already in the cache` });
    return readVariantReport(cache, key);
  }

  progress({ phase: 'calibration', fraction: 0, message: 'preparing calibration samples' });
  const calib = await buildCalibration(cache, baseKey, spec, req, signal, (message) =>
    progress({ phase: 'calibration', fraction: 0, message }),
  );
  signal?.throwIfAborted();
  const { kernels, adapter, owned, note, software } = await resolveKernels(req.kernels ?? 'auto', run.device);
  const hardwareGpu = kernels.kind === 'webgpu' && software === false;
  const forward = !req.forward || req.forward === 'auto' ? chooseForward(spec, calib.samples, calib.seqLen, hardwareGpu) : req.forward;
  const weights = await openWeights(cache, base);
  const source: LayerSource = { layer: (i) => weights.layer(i), tensor: (n) => weights.float32(n) };
  let writer: VariantWriter | null = null;
  let layersKept = 0;
  try {
    const halfGraph = req.halfGraph ?? (await describeAdapter()).features.includes('shader-f16');
    writer = await VariantWriter.create(cache, base, weights, key, label, settings, kernels, halfGraph);
    const w = writer;
    // A stopped compression of this variant goes on after its last kept layer.
    const context: CheckpointContext = { kernels: kernels.kind, forward, layers: spec.numLayers };
    const resume = { layers: [] as LayerTiming[], linears: [] as LinearReport[], hidden: [] as Float32Array[] };
    for await (const c of keptLayers(cache, key, context)) {
      await w.writeLayer(c.out);
      resume.layers.push(c.timing);
      resume.linears.push(...c.out.linears);
      resume.hidden = c.next;
    }
    layersKept = resume.layers.length;
    if (layersKept === 0) await removeCheckpoints(cache, key);
    else
      progress({
        phase: 'compress',
        fraction: layersKept / spec.numLayers,
        message: `going on from layer ${layersKept + 1}/${spec.numLayers}: ${layersKept} layers kept from the stopped run`,
      });
    const result = await compressLayers({
      spec,
      source,
      calibration: calib.ids,
      settings,
      kernels,
      forward,
      signal,
      errorTokens: run.errorTokens,
      onHessian: run.onHessian,
      onProgress: (p: DriverProgress) =>
        progress({ phase: 'compress', fraction: p.fraction, message: p.message, layer: p.layer, layers: p.layers, linear: p.linear }),
      onLayer: async (out, k) => {
        await w.writeLayer(out);
        await saveCheckpoint(cache, key, { out, ...k }, context);
        layersKept = out.layer + 1;
      },
      ...(layersKept > 0 ? { resume } : {}),
    });
    signal?.throwIfAborted();
    progress({ phase: 'store', fraction: 1, message: 'writing model.safetensors and the graph' });
    const stored: StoreProgressFn = (file, done, total) =>
      progress({ phase: 'store', fraction: 1, message: `writing ${file}`, file, done, total });
    const report = await writer.finish(({ safetensors, graph, graphFp16, graphMs, storeMs, gptq }) => {
      const linears = result.linears.map((l) => ({ ...l, ...w.storage.get(l.name)! }));
      const before = base.weightFiles.reduce((s, f) => s + (base.manifest.files[f]?.size ?? 0), 0);
      const files = Object.values(base.manifest.files)
        .filter((f) => (['config.json', 'tokenizer.json', ...OPTIONAL_FILES] as string[]).includes(f.name))
        .reduce((s, f) => s + (f.size ?? 0), 0);
      const errors = linears.map((l) => l.error);
      const totalZeros = linears.reduce((s, l) => s + l.zeros * l.shape[0] * l.shape[1], 0);
      const totalWeights = linears.reduce((s, l) => s + l.shape[0] * l.shape[1], 0);
      const packed = linears.filter((l) => l.format === 'matmulnbits').length;
      return {
        kind: 'ctlab-variant',
        version: 1,
        key,
        label,
        base: { key: baseKey, label: base.label },
        method: settings.method,
        settings,
        settingsLabel: label.slice(base.label.length + 3),
        calibration: {
          source: calib.source,
          samples: calib.samples,
          forwardSamples: result.forwardSamples,
          seqLen: calib.seqLen,
          seed: calib.seed,
          sourceTokens: calib.sourceTokens,
          notes: calib.notes,
        },
        kernels: kernels.kind,
        adapter: kernels.kind === 'webgpu' ? adapter : null,
        ...(kernels.kind === 'webgpu' ? { division: describeDivision(divisionCheckOf(kernels.device)) } : {}),
        ...(note ? { kernelsNote: note } : {}),
        forward: result.forward,
        graph: {
          linear: graph !== null ? 'matmulnbits' : 'matmul',
          packedLinears: packed,
          fp32Linears: linears.length - packed,
          notes: w.notes,
        },
        linears,
        ...(gptq ? { gptq } : {}),
        summary: {
          meanError: errors.reduce((a, b) => a + b, 0) / Math.max(1, errors.length),
          maxError: Math.max(...errors),
          zeros: totalWeights ? totalZeros / totalWeights : 0,
          bits: 'bits' in settings ? settings.bits : null,
          dampRetries: result.dampRetries,
          structureProblems: linears.filter((l) => l.structureProblem).map((l) => `${l.name}: ${l.structureProblem}`),
        },
        bytes: {
          before,
          after: graph ?? safetensors,
          safetensors,
          graph,
          ...(typeof graphFp16 === 'number' ? { graphFp16 } : {}),
          files: files + safetensors + (graph ?? 0) + (typeof graphFp16 === 'number' ? graphFp16 : 0),
          linearsDense: linears.reduce((s, l) => s + l.denseBytes, 0),
          linearsStored: linears.reduce((s, l) => s + (l.packedBytes ?? l.denseBytes), 0),
          linearsIdeal: linears.reduce((s, l) => s + l.idealBytes, 0),
        },
        timings: {
          calibrationMs: calib.ms,
          captureMs: result.timings.captureMs,
          layersMs: result.timings.layersMs,
          storeMs,
          graphMs,
          totalMs: performance.now() - t0,
          phases: result.timings.phases,
          perLayer: result.layers,
        },
        createdAt: new Date().toISOString(),
      };
    }, stored);
    progress({ phase: 'done', fraction: 1, message: `stored ${label}` });
    return report;
  } catch (err) {
    // A cancel or a lost GPU keeps the finished layers for the next try; a fault of the model
    // or the settings would only repeat, so its partial variant goes.
    const transient = signal?.aborted === true || isGpuError(err);
    if (transient && layersKept > 0) {
      const why = `stopped after ${layersKept} of ${spec.numLayers} layers; compressing it again with the same settings goes on from layer ${layersKept + 1}`;
      await cache.setStatus(key, 'partial', why).catch(() => undefined);
    } else await writer?.abort().catch(() => undefined);
    if (isGpuError(err))
      err.message +=
        layersKept > 0
          ? `. Compressing ${label} stopped; its ${layersKept} finished layers are kept: run it again (it gets a new GPU device) and it goes on from layer ${layersKept + 1}.`
          : `. Compressing ${label} stopped and its partial variant was discarded; run it again (it gets a new GPU device).`;
    throw err;
  } finally {
    owned?.destroy();
  }
}
