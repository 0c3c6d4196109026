import { packOn, type Kernels } from '../compress/engine/backend';
import type { LayerOutput } from '../compress/engine/report';
import type { QuantizedMatrix } from '../compress/reference/quantizer';
import { settingsLabel, settingsSlug, type ResolvedSettings } from '../compress/reference/settings';
import { isNM } from '../compress/reference/types';
import { ensureDenseGraph, graphFiles, storedGraph, storeGraph, type GraphProgressFn } from '../infer/graph-store';
import { openCachedModel, OPTIONAL_FILES, type CachedModel } from '../model/download';
import { isFloatDtype, writeSafetensors, type FloatDtype, type TensorToWrite } from '../model/safetensors';
import type { ModelSpec } from '../model/spec';
import type { WeightStore } from '../model/weights';
import { buildCausalLmStreaming, dequantizeMatMulNBits, Float16RangeError, type PackedLinear, type Precision } from '../onnx';
import { blobSource, type ByteSource } from '../storage/byte-source';
import type { ShardCache } from '../storage/shard-cache';
import type { LinearStorage, VariantReport } from './report';
import { BASE_DTYPES_KEY, encodeFloats, exportedSafetensors } from './export-dtype';
import { removeCheckpoints } from './layer-checkpoint';
import {
  gptqFormatFor,
  gptqQuantizationConfig,
  gptqRefusal,
  gptqTensors,
  packZeros,
  type GptqExport,
  type GptqTensors,
} from './gptq-layout';
import { VARIANT_PREFIX } from './keys';

export { isVariantKey, VARIANT_PREFIX } from './keys';

export const VARIANT_REPORT_FILE = 'ctlab-variant.json';

/** The subfolder holding the variant as a GPTQ checkpoint (packed codes), next to the dequantized one. */
export const GPTQ_FOLDER = 'gptq';

/** `variant:<baseKey>:<settings slug>[.<calibration tag>]`. */
export function variantKey(baseKey: string, settings: ResolvedSettings, calibrationTag?: string): string {
  return `${VARIANT_PREFIX}${baseKey}:${settingsSlug(settings)}${calibrationTag ? `.${calibrationTag}` : ''}`;
}

export function variantLabel(baseLabel: string, settings: ResolvedSettings): string {
  return `${baseLabel} · ${settingsLabel(settings)}`;
}

/** Bytes of the ideal compressed form of an [N, K] linear (what a packed kernel would hold). */
export function idealBytes(N: number, K: number, settings: ResolvedSettings, groupSize: number): number {
  if ('bits' in settings) {
    const groups = Math.ceil(K / Math.max(1, groupSize || K));
    return Math.ceil((N * K * settings.bits) / 8) + N * groups * (4 + (settings.sym ? 0 : 1));
  }
  const sp = settings.sparsity;
  if (isNM(sp)) {
    const kept = N * K * (1 - sp.n / sp.m);
    return Math.ceil(kept * 4 + (kept * Math.ceil(Math.log2(sp.m))) / 8);
  }
  return Math.ceil(N * K * (1 - sp.ratio) * 4 + (N * K) / 8);
}

const isPow2AtLeast16 = (b: number) => b >= 16 && (b & (b - 1)) === 0;

/** Safetensors header for F32 tensors in the given order, padded to 8 bytes. */
function safetensorsHeader(entries: readonly { name: string; shape: number[] }[], metadata: Record<string, string>): Uint8Array {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const e of entries) {
    const bytes = e.shape.reduce((a, b) => a * b, 1) * 4;
    header[e.name] = { dtype: 'F32', shape: e.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.byteLength / 8) * 8;
  const out = new Uint8Array(8 + padded).fill(0x20);
  new DataView(out.buffer).setBigUint64(0, BigInt(padded), true);
  out.set(json, 8);
  return out;
}

const asBlob = (a: Float32Array) => new Blob([new Uint8Array(a.buffer, a.byteOffset, a.byteLength) as Uint8Array<ArrayBuffer>]);

/** Bytes of one of a variant's files written so far (`what`: the file, or the graph as a whole). */
export type StoreProgressFn = (what: string, doneBytes: number, totalBytes: number) => void;

/**
 * Writes a variant into the shard cache as a model entry of its own: config and tokenizer files
 * copied from the base, `model.safetensors` with every tensor in fp32 (compressed linears
 * fake-quantized or pruned, so the ordinary dense-graph path runs it), for 4/8 bits also the
 * MatMulNBits graph (`onnx/model.onnx` + data + `onnx/ctlab-graph.json`), and the report. Layers
 * arrive one at a time; their fp32 tensors become Blobs (the browser may keep them on disk)
 * and only packed codes, norms and unpackable linears stay in memory for the graph. The
 * manifest is marked complete last; `abort` deletes the entry.
 */
export class VariantWriter {
  private readonly blobs = new Map<string, Blob>();
  /** Small fp32 tensors (norms, biases) and linears that could not be packed, for the graph. */
  private readonly fp32ForGraph = new Map<string, Float32Array>();
  private readonly packed = new Map<string, PackedLinear>();
  readonly storage = new Map<string, LinearStorage>();
  private readonly graphNotes = new Set<string>();
  /** Each quantized linear in GPTQ's layout, its `qweight` as a Blob (the browser may keep it on disk). */
  private readonly gptq = new Map<string, Omit<GptqTensors, 'qweight'> & { qweight: Blob }>();
  private gptqRefused: string | null = null;

  private constructor(
    readonly cache: ShardCache,
    readonly base: CachedModel,
    private readonly baseWeights: WeightStore,
    readonly key: string,
    readonly label: string,
    readonly settings: ResolvedSettings,
    private readonly kernels: Kernels,
    private readonly halfGraph: boolean,
  ) {}

  static async create(
    cache: ShardCache,
    base: CachedModel,
    baseWeights: WeightStore,
    key: string,
    label: string,
    settings: ResolvedSettings,
    kernels: Kernels,
    /** Also build the graph with fp16 weights and scales (`model_fp16.onnx`), for adapters with `shader-f16`. */
    halfGraph = false,
  ): Promise<VariantWriter> {
    if (key === base.key) throw new Error('a variant cannot overwrite its base model');
    const existing = await cache.manifest(key);
    // A stopped compression of this key keeps its entry (and its layer checkpoints) to go on;
    // anything else stored under the key is replaced.
    const keep = existing?.status === 'partial' && existing.source.kind === 'variant' && existing.source.location === base.key;
    if (existing && !keep) await cache.deleteModel(key);
    if (!keep) await cache.openModel(key, label, { kind: 'variant', location: base.key });
    const w = new VariantWriter(cache, base, baseWeights, key, label, settings, kernels, halfGraph);
    for (const f of ['config.json', 'tokenizer.json', ...OPTIONAL_FILES]) {
      if (!base.manifest.files[f]?.complete || (keep && existing.files[f]?.complete)) continue;
      await cache.storeBytes(key, f, await cache.readFile(base.key, f));
    }
    return w;
  }

  get spec(): ModelSpec {
    return this.base.spec;
  }

  /** Takes one compressed layer: fp32 tensors to Blobs, 4/8-bit linears packed for MatMulNBits. */
  async writeLayer(out: LayerOutput): Promise<void> {
    for (const [name, data] of out.tensors) {
      this.blobs.set(name, asBlob(data));
      if (!name.endsWith('_proj.weight')) this.fp32ForGraph.set(name, data);
    }
    for (const l of out.linears) {
      const data = out.tensors.get(l.name)!;
      const [N, K] = l.shape;
      const st: LinearStorage = { format: 'fp32', denseBytes: N * K * 4, idealBytes: idealBytes(N, K, this.settings, l.groupSize) };
      const q = out.quantized.get(l.name);
      if (q) this.keepGptq(l.name, q);
      if (q && (q.bits === 4 || q.bits === 8)) {
        const why = await this.tryPack(l.name, q, data);
        if (why) {
          st.reason = why;
          this.graphNotes.add(why);
          this.fp32ForGraph.set(l.name, data);
        } else {
          const p = this.packed.get(l.name)!;
          st.format = 'matmulnbits';
          st.packedBytes = p.packed.byteLength + p.scales.byteLength + (p.zeroPoints?.byteLength ?? 0);
        }
      } else if (q) {
        this.graphNotes.add(`${q.bits}-bit linears run as fake-quantized fp32 MatMul (MatMulNBits holds 4 and 8 bits)`);
      }
      this.storage.set(l.name, st);
    }
  }

  private keepGptq(name: string, q: QuantizedMatrix): void {
    if (this.gptqRefused) return;
    const why = gptqRefusal(q);
    if (why) {
      this.gptqRefused = `${name}: ${why}`;
      this.gptq.clear();
      return;
    }
    const { qweight, ...rest } = gptqTensors(q);
    this.gptq.set(name, { ...rest, qweight: new Blob([qweight as Int32Array<ArrayBuffer>]) });
  }

  /** Each tensor's dtype in the base checkpoint: the dtype an export writes it in. */
  private baseDtype(name: string): FloatDtype {
    const { dtype } = this.baseWeights.info(name);
    return isFloatDtype(dtype) ? dtype : 'F32';
  }

  /** Packs a quantized linear; returns why it cannot be packed, or null. */
  private async tryPack(name: string, q: QuantizedMatrix, weight: Float32Array): Promise<string | null> {
    const { rows: N, cols: K } = q.weight;
    if (q.gIdx && q.gIdx.some((g, j) => g !== Math.floor(j / q.groupSize))) {
      return 'act-order with groups makes non-contiguous groups (g_idx), which MatMulNBits cannot hold: such linears run as fake-quantized fp32';
    }
    const p = await packOn(this.kernels, q);
    if (!isPow2AtLeast16(p.blockSize)) {
      return `group size ${p.blockSize} is not a power of two ≥ 16 (onnxruntime's MatMulNBits block sizes): such linears run as fake-quantized fp32`;
    }
    const linear: PackedLinear = { bits: p.bits, blockSize: p.blockSize, K, N, packed: p.B, scales: p.scales, zeroPoints: p.zeroPoints };
    // The packed form must stand for exactly the weights the fp32 checkpoint holds.
    const back = dequantizeMatMulNBits(linear);
    let worst = 0;
    let scale = 0;
    for (let i = 0; i < back.length; i++) {
      worst = Math.max(worst, Math.abs(back[i] - weight[i]));
      scale = Math.max(scale, Math.abs(weight[i]));
    }
    if (worst > 1e-6 * scale)
      throw new Error(`${name}: the MatMulNBits packing does not reproduce the quantized weights (max diff ${worst})`);
    this.packed.set(name, linear);
    return null;
  }

  /** Writes the safetensors, the graph (when something is packed) and the report, then marks the variant complete. */
  async finish(
    makeReport: (files: {
      safetensors: number;
      graph: number | null;
      /** The fp16 graph's bytes, or why there is none when one was asked for. */
      graphFp16: number | string | null;
      graphMs: number;
      storeMs: number;
      gptq: GptqExport | null;
    }) => VariantReport,
    onProgress?: StoreProgressFn,
  ): Promise<VariantReport> {
    const storeStart = performance.now();
    const names = this.baseWeights.names();
    const entries = names.map((name) => ({ name, shape: this.baseWeights.info(name).shape }));
    const baseDtypes = JSON.stringify(Object.fromEntries(names.map((n) => [n, this.baseDtype(n)])));
    const metadata = { format: 'pt', producer: 'compressed-trust-lab', variant: this.label, [BASE_DTYPES_KEY]: baseDtypes };
    const parts: BlobPart[] = [safetensorsHeader(entries, metadata) as Uint8Array<ArrayBuffer>];
    const nonLayer = new Map<string, Float32Array>();
    for (const { name } of entries) {
      let blob = this.blobs.get(name);
      if (!blob) {
        if (/^model\.layers\.\d+\./.test(name)) throw new Error(`${name} was never compressed (only some layers were written)`);
        const v = await this.baseWeights.float32(name);
        nonLayer.set(name, v);
        blob = asBlob(v);
      }
      parts.push(blob);
      this.blobs.set(name, blob);
    }
    const safetensors = new Blob(parts);
    await this.cache.storeFromBlob(this.key, 'model.safetensors', safetensors, {
      onProgress: (e) => onProgress?.('model.safetensors', e.loaded, safetensors.size),
    });
    const gptq = await this.storeGptq(names, onProgress);
    this.blobs.clear();
    const storeMs = performance.now() - storeStart;

    let graph: number | null = null;
    let graphFp16: number | string | null = null;
    const graphStart = performance.now();
    if (this.packed.size > 0) {
      const fp32 = this.fp32ForGraph;
      // Streamed into the cache tensor by tensor: no second copy of the packed weights.
      const store = async (precision: Precision) => {
        const laid = buildCausalLmStreaming(this.spec, async (name) => fp32.get(name) ?? nonLayer.get(name)!, {
          linear: 'matmulnbits',
          packed: this.packed,
          precision,
          externalData: { modelFileName: graphFiles(precision).modelFileName },
        });
        const what = precision === 'fp32' ? 'the ONNX graph' : `the ONNX graph (${precision})`;
        return (
          await storeGraph(this.cache, this.key, this.label, laid, 'matmulnbits', {
            precision,
            onProgress: (done, total) => onProgress?.(what, done, total),
          })
        ).bytes;
      };
      graph = await store('fp32');
      if (this.halfGraph) {
        try {
          graphFp16 = await store('fp16');
        } catch (err) {
          // A weight beyond half precision's range: the variant still runs its fp32-scale graph.
          if (!(err instanceof Float16RangeError)) throw err;
          graphFp16 = err.message;
          this.graphNotes.add(`no fp16 graph: ${err.message}`);
        }
      }
    }
    const graphMs = performance.now() - graphStart;
    this.packed.clear();
    this.fp32ForGraph.clear();

    const report = makeReport({ safetensors: safetensors.size, graph, graphFp16, graphMs, storeMs, gptq });
    await removeCheckpoints(this.cache, this.key);
    await this.cache.storeBytes(this.key, VARIANT_REPORT_FILE, new TextEncoder().encode(JSON.stringify(report, null, 1)));
    await this.cache.setStatus(this.key, 'complete');
    return report;
  }

  /**
   * `gptq/`: the variant as a GPTQ checkpoint (config.json with `quantization_config`, tokenizer
   * files, model.safetensors with qweight/qzeros/scales/g_idx for each quantized linear and every
   * other tensor in its base dtype). Quantized variants only; null for pruned ones.
   */
  private async storeGptq(names: string[], onProgress?: StoreProgressFn): Promise<GptqExport | null> {
    const settings = this.settings;
    if (!('bits' in settings)) return null;
    if (this.gptqRefused || this.gptq.size === 0) return { refused: this.gptqRefused ?? 'no linear was quantized' };
    let minZero = Infinity;
    // A loop, not Math.min(...zeros): a large model's zero points are too many for one call's arguments.
    for (const t of this.gptq.values()) for (const z of t.zeros) minZero = Math.min(minZero, z);
    const format = gptqFormatFor(minZero);
    const tensors: TensorToWrite[] = [];
    for (const name of names) {
      const t = this.gptq.get(name);
      if (!t) {
        const values = new Float32Array(await this.blobs.get(name)!.arrayBuffer());
        tensors.push({
          name,
          dtype: this.baseDtype(name),
          shape: this.baseWeights.info(name).shape,
          data: encodeFloats(values, this.baseDtype(name)),
        });
        continue;
      }
      const prefix = name.replace(/\.weight$/, '');
      const perWord = 32 / t.bits;
      const bytes = (a: Int32Array | Uint16Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
      tensors.push(
        { name: `${prefix}.qweight`, dtype: 'I32', shape: [t.K / perWord, t.N], data: new Uint8Array(await t.qweight.arrayBuffer()) },
        {
          name: `${prefix}.qzeros`,
          dtype: 'I32',
          shape: [t.groups, t.N / perWord],
          data: bytes(packZeros({ ...t, qweight: new Int32Array(0) }, format)),
        },
        { name: `${prefix}.scales`, dtype: 'F16', shape: [t.groups, t.N], data: bytes(t.scales) },
        { name: `${prefix}.g_idx`, dtype: 'I32', shape: [t.K], data: bytes(t.gIdx) },
      );
    }
    const file = writeSafetensors(tensors, { format: 'pt', producer: 'compressed-trust-lab', variant: this.label });
    const path = `${GPTQ_FOLDER}/model.safetensors`;
    await this.cache.storeBytes(this.key, path, file, { onProgress: (e) => onProgress?.(path, e.loaded, file.byteLength) });
    const config = JSON.parse(await this.cache.readText(this.key, 'config.json')) as Record<string, unknown>;
    delete config['transformers.js_config'];
    config.quantization_config = gptqQuantizationConfig({
      bits: settings.bits,
      groupSize: settings.groupSize,
      sym: settings.sym,
      actOrder: settings.actOrder,
      format,
    });
    await this.cache.storeBytes(this.key, `${GPTQ_FOLDER}/config.json`, new TextEncoder().encode(`${JSON.stringify(config, null, 2)}\n`));
    for (const f of ['tokenizer.json', ...OPTIONAL_FILES]) {
      if (!this.base.manifest.files[f]?.complete) continue;
      await this.cache.storeBytes(this.key, `${GPTQ_FOLDER}/${f}`, await this.cache.readFile(this.key, f));
    }
    this.gptq.clear();
    return { format, bytes: file.byteLength };
  }

  get notes(): string[] {
    return [...this.graphNotes];
  }

  get packedCount(): number {
    return [...this.storage.values()].filter((s) => s.format === 'matmulnbits').length;
  }

  /** Removes everything written so far (a cancelled or failed run). */
  async abort(): Promise<void> {
    this.blobs.clear();
    this.gptq.clear();
    this.packed.clear();
    this.fp32ForGraph.clear();
    await this.cache.deleteModel(this.key);
  }
}

export interface VariantFile {
  path: string;
  bytes: number;
}

/** The report of a stored variant. */
export async function readVariantReport(cache: ShardCache, key: string): Promise<VariantReport> {
  const m = await cache.manifest(key);
  if (!m?.files[VARIANT_REPORT_FILE]?.complete) throw new Error(`${key} is not a compressed variant (no ${VARIANT_REPORT_FILE})`);
  return JSON.parse(await cache.readText(key, VARIANT_REPORT_FILE)) as VariantReport;
}

/**
 * The files of a variant as a Hugging Face folder with an `onnx/` subfolder that transformers.js
 * loads elsewhere, and for 2/4/8-bit variants a `gptq/` subfolder (a GPTQ checkpoint). A variant
 * without a stored graph (3-bit, pruned) gets its dense fp32 graph built first (as its first load
 * would); `config.json` is exported with `transformers.js_config.use_external_data_format` set to
 * the graph's chunk count, and `model.safetensors` with each tensor in its base checkpoint's dtype.
 */
export async function exportVariantFiles(cache: ShardCache, key: string, onGraphProgress?: GraphProgressFn): Promise<VariantFile[]> {
  const model = await openCachedModel(cache, key);
  await ensureDenseGraph(cache, model, undefined, 'fp32', onGraphProgress);
  const m = (await cache.manifest(key))!;
  const files: VariantFile[] = [];
  for (const f of Object.values(m.files)) {
    if (!f.complete) continue;
    files.push({ path: f.name, bytes: (await exportSource(cache, key, f.name)).size });
  }
  return files.sort((a, b) => a.path.localeCompare(b.path));
}

async function exportedConfig(cache: ShardCache, key: string): Promise<Uint8Array> {
  const config = JSON.parse(await cache.readText(key, 'config.json')) as Record<string, unknown>;
  const info = await storedGraph(cache, key);
  if (info) {
    const half = await storedGraph(cache, key, 'fp16');
    const tjs = (config['transformers.js_config'] ?? {}) as Record<string, unknown>;
    const chunks = { 'model.onnx': info.chunks, ...(half ? { 'model_fp16.onnx': half.chunks } : {}) };
    config['transformers.js_config'] = { ...tjs, dtype: 'fp32', use_external_data_format: chunks };
  }
  return new TextEncoder().encode(`${JSON.stringify(config, null, 2)}\n`);
}

/**
 * An exported file's bytes: the cached file, except `config.json` and `model.safetensors` (see
 * `exportVariantFiles`). `blob` is there when the export is the cached file unchanged: it gives
 * the file as a Blob of its IndexedDB records, which the browser can send without reading it into
 * JavaScript.
 */
export async function exportSource(cache: ShardCache, key: string, path: string): Promise<ByteSource & { blob?: () => Promise<Blob> }> {
  if (path === 'config.json') {
    const bytes = await exportedConfig(cache, key);
    return { name: path, size: bytes.byteLength, read: async (offset, length) => bytes.slice(offset, offset + length) };
  }
  const cached = await cache.openFile(key, path);
  if (path !== 'model.safetensors') return { ...cached, blob: () => cache.fileBlob(key, path) };
  // Read through the file's Blob: each read takes just its byte range from disk, and reads of
  // several slices at once do not evict each other's records as `openFile`'s reads would.
  const blob = await cache.fileBlob(key, path);
  const whole = blobSource(path, blob);
  const exported = await exportedSafetensors(whole);
  return exported === whole ? { ...cached, blob: async () => blob } : exported;
}

/** Bytes [offset, offset+length) of an exported file (clipped to its end). */
export async function readExportChunk(cache: ShardCache, key: string, path: string, offset: number, length: number): Promise<Uint8Array> {
  const src = await exportSource(cache, key, path);
  const end = Math.min(src.size, offset + length);
  return src.read(offset, Math.max(0, end - offset));
}
