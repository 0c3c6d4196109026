import * as ort from 'onnxruntime-web/webgpu';
import { describeAdapter } from '../gpu/device';
import { configureOrt, fixOrtThreads, ortWasmThreading } from '../infer/ort-env';
import type { WasmThreading } from '../infer/wasm-threads';
import { parseModelSpec } from '../model/config';
import { randomWeights } from '../model/random-model';
import type { ModelSpec } from '../model/spec';
import { buildCausalLm, packMatMulNBits, type PackedLinear } from '../onnx';

export interface DecodeBenchOptions {
  /** Decoder layers of the SmolLM2-135M shape to build (30 in the real model). */
  layers?: number;
  promptTokens?: number;
  newTokens?: number;
  devices?: ('wasm' | 'webgpu')[];
  graphs?: ('fp32' | 'q4')[];
  /**
   * Longer prompts timed for prefill alone: the 64-token prompt of the decode rows is a small
   * fraction of a DecodingTrust prompt (200–1000 tokens), too little work to split across threads.
   */
  prefillLengths?: number[];
  onStatus?: (msg: string) => void;
}

export interface DecodeBenchRow {
  device: 'wasm' | 'webgpu';
  graph: 'fp32' | 'q4';
  prefillTokensPerSecond: number;
  decodeTokensPerSecond: number;
  /** Prefill alone at each of `prefillLengths`. */
  prefillAt?: PrefillAt[];
  graphBytes: number;
}

export interface PrefillAt {
  tokens: number;
  tokensPerSecond: number;
}

export interface DecodeBenchResult {
  model: string;
  adapter: string | null;
  promptTokens: number;
  newTokens: number;
  rows: DecodeBenchRow[];
  /** Each row's decode speed over the fp32 graph on wasm, measured in this run. */
  ratios: Record<string, number>;
}

/** SmolLM2-135M-Instruct's `config.json` (from its Hugging Face folder), with `layers` decoder layers. */
export function smollm2Config(layers: number): Record<string, unknown> {
  return {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    hidden_size: 576,
    intermediate_size: 1536,
    num_hidden_layers: layers,
    num_attention_heads: 9,
    num_key_value_heads: 3,
    head_dim: 64,
    vocab_size: 49152,
    rope_theta: 100000,
    rms_norm_eps: 1e-5,
    tie_word_embeddings: true,
    max_position_embeddings: 8192,
    hidden_act: 'silu',
    bos_token_id: 1,
    eos_token_id: 2,
  };
}

export function smollm2Spec(layers: number): ModelSpec {
  return parseModelSpec(smollm2Config(layers));
}

function feeds(spec: ModelSpec, ids: number[], pastLength: number, past: Record<string, ort.Tensor>): Record<string, ort.Tensor> {
  const total = pastLength + ids.length;
  const out: Record<string, ort.Tensor> = {
    input_ids: new ort.Tensor('int64', BigInt64Array.from(ids, BigInt), [1, ids.length]),
    attention_mask: new ort.Tensor('int64', new BigInt64Array(total).fill(1n), [1, total]),
    position_ids: new ort.Tensor(
      'int64',
      BigInt64Array.from(ids, (_, i) => BigInt(pastLength + i)),
      [1, ids.length],
    ),
    // Only the last position's logits, as transformers.js asks while it generates.
    num_logits_to_keep: new ort.Tensor('int64', BigInt64Array.of(1n), []),
  };
  for (let l = 0; l < spec.numLayers; l++) {
    for (const kind of ['key', 'value'] as const) {
      out[`past_key_values.${l}.${kind}`] =
        past[`present.${l}.${kind}`] ?? new ort.Tensor('float32', new Float32Array(0), [1, spec.numKvHeads, 0, spec.headDim]);
      // No shared prefix: a single sequence, as one generation runs.
      out[`prefix_key_values.${l}.${kind}`] = new ort.Tensor('float32', new Float32Array(0), [1, spec.numKvHeads, 0, spec.headDim]);
    }
  }
  return out;
}

async function timeSession(session: ort.InferenceSession, spec: ModelSpec, prompt: number[], newTokens: number) {
  const t0 = performance.now();
  let out = await session.run(feeds(spec, prompt, 0, {}));
  await out.logits.getData();
  const t1 = performance.now();
  let length = prompt.length;
  for (let i = 0; i < newTokens; i++) {
    const next = (prompt[i % prompt.length] + i) % spec.vocabSize;
    const prev = out;
    out = await session.run(feeds(spec, [next], length, out));
    await out.logits.getData();
    for (const t of Object.values(prev)) t.dispose();
    length++;
  }
  const t2 = performance.now();
  for (const t of Object.values(out)) t.dispose();
  return { prefill: (prompt.length * 1000) / (t1 - t0), decode: (newTokens * 1000) / (t2 - t1) };
}

async function timePrefill(session: ort.InferenceSession, spec: ModelSpec, prompt: number[]): Promise<number> {
  const t0 = performance.now();
  const out = await session.run(feeds(spec, prompt, 0, {}));
  await out.logits.getData();
  const ms = performance.now() - t0;
  for (const t of Object.values(out)) t.dispose();
  return (prompt.length * 1000) / ms;
}

/** Timed passes per shape after its warm-up; the fastest counts. */
const TIMED_REPEATS = 3;

/** One untimed pass, then TIMED_REPEATS timed ones, in order. */
async function warmTimed<T>(pass: () => Promise<T>): Promise<T[]> {
  await pass();
  const out: T[] = [];
  for (let i = 0; i < TIMED_REPEATS; i++) out.push(await pass());
  return out;
}

function promptOf(tokens: number, vocabSize: number): number[] {
  return Array.from({ length: tokens }, (_, i) => (i * 37 + 11) % vocabSize);
}

/** Prefill and decode speed of our graphs per device and linear type, measured in one run. */
export async function benchDecode(opts: DecodeBenchOptions = {}): Promise<DecodeBenchResult> {
  const layers = opts.layers ?? 4;
  const promptTokens = opts.promptTokens ?? 64;
  const newTokens = opts.newTokens ?? 16;
  const spec = smollm2Spec(layers);
  // The default unless `benchDecodeThreads` fixed a count first.
  fixOrtThreads();
  opts.onStatus?.(`random SmolLM2-135M-shaped weights, ${layers} layers`);
  const weights = randomWeights(spec, 11);
  const packed = new Map<string, PackedLinear>();
  for (const [name, w] of weights) {
    if (!/\.layers\.\d+\..*_proj\.weight$/.test(name)) continue;
    const [N, K] = name.includes('down_proj') ? [spec.hiddenSize, spec.intermediateSize] : [w.length / spec.hiddenSize, spec.hiddenSize];
    packed.set(name, packMatMulNBits(w, N, K, 4, 32, true));
  }
  const adapterReport = await describeAdapter();
  const adapter = adapterReport.available ? [adapterReport.vendor, adapterReport.architecture].filter(Boolean).join(' · ') : null;
  const devices = (opts.devices ?? ['wasm', 'webgpu']).filter((d) => d === 'wasm' || adapterReport.available);
  const prompt = promptOf(promptTokens, spec.vocabSize);
  const rows: DecodeBenchRow[] = [];
  for (const graph of opts.graphs ?? ['fp32', 'q4']) {
    const built = buildCausalLm(spec, weights, graph === 'q4' ? { linear: 'matmulnbits', packed } : {});
    const graphBytes = built.model.byteLength + built.externalData.reduce((s, e) => s + e.data.byteLength, 0);
    for (const device of devices) {
      opts.onStatus?.(`${graph} on ${device}`);
      // Sessions are created and released one by one: ORT-web shares external data by file name.
      const session = await ort.InferenceSession.create(built.model, {
        executionProviders: [device],
        externalData: built.externalData.map(({ path, data }) => ({ path, data })),
      });
      // Each shape once untimed (shader compilation, the arena growing to it), then the fastest of
      // TIMED_REPEATS: a single cold pass measured a one-off cost as often as the speed.
      const runs = await warmTimed(() => timeSession(session, spec, prompt, newTokens));
      const t = { prefill: Math.max(...runs.map((r) => r.prefill)), decode: Math.max(...runs.map((r) => r.decode)) };
      const prefillAt: PrefillAt[] = [];
      for (const tokens of opts.prefillLengths ?? []) {
        opts.onStatus?.(`${graph} on ${device}: prefill of ${tokens} tokens`);
        const long = promptOf(tokens, spec.vocabSize);
        prefillAt.push({ tokens, tokensPerSecond: Math.max(...(await warmTimed(() => timePrefill(session, spec, long)))) });
      }
      await session.release();
      // Without prefill lengths a row keeps its old shape (the CLI's golden JSON).
      const extra = prefillAt.length ? { prefillAt } : {};
      rows.push({ device, graph, prefillTokensPerSecond: t.prefill, decodeTokensPerSecond: t.decode, ...extra, graphBytes });
    }
  }
  const base = rows.find((r) => r.device === 'wasm' && r.graph === 'fp32');
  const ratios: Record<string, number> = {};
  for (const r of rows) if (base) ratios[`${r.graph}/${r.device}`] = r.decodeTokensPerSecond / base.decodeTokensPerSecond;
  return { model: `SmolLM2-135M shape, ${layers} of 30 layers, random weights`, adapter, promptTokens, newTokens, rows, ratios };
}

/** A thread count for the WASM rows: a number (clamped to the cores) or every core. */
export type ThreadsSetting = number | 'all';

/** One worker's WASM rows at the thread count its ORT runs with. */
export interface ThreadsRun {
  threading: WasmThreading;
  result: DecodeBenchResult;
}

/**
 * The WASM rows with ORT on `threads` threads. ORT fixes its thread count when a worker's first
 * session starts, so this must be the first ORT work of a fresh worker (the page gives each
 * setting its own); `threading` says what ORT really ran with.
 */
export async function benchDecodeThreads(threads: ThreadsSetting, opts: Omit<DecodeBenchOptions, 'devices'> = {}): Promise<ThreadsRun> {
  configureOrt({ threads: threads === 'all' ? Infinity : threads });
  const result = await benchDecode({ ...opts, devices: ['wasm'] });
  return { threading: ortWasmThreading(), result };
}

export interface ThreadsBenchRow {
  graph: 'fp32' | 'q4';
  threads: number;
  prefillTokensPerSecond: number;
  decodeTokensPerSecond: number;
  /** Over the same graph's row at the fewest threads measured. */
  prefillSpeedup: number;
  decodeSpeedup: number;
  /** Prefill alone at the longer prompts, each with its speed-up over the fewest threads. */
  prefillAt: (PrefillAt & { speedup: number })[];
}

export interface ThreadsBenchResult {
  model: string;
  /** Runs per thread count (the best of them is kept). */
  repeats: Record<number, number>;
  promptTokens: number;
  newTokens: number;
  isolated: boolean;
  cores: number;
  rows: ThreadsBenchRow[];
}

/**
 * The runs of benchDecodeThreads side by side, each row's speed over its graph at the fewest
 * threads. A thread count given twice keeps its best speeds: on a shared machine, alternating
 * settings (1,all,1,all) and keeping the best is what filters out other processes' bursts.
 */
export function compareThreads(runs: ThreadsRun[]): ThreadsBenchResult {
  if (!runs.length) throw new Error('no thread settings were measured');
  type Best = { graph: 'fp32' | 'q4'; threads: number; prefill: number; decode: number; at: Map<number, number> };
  const best = new Map<string, Best>();
  for (const { threading, result } of runs)
    for (const r of result.rows) {
      if (r.device !== 'wasm') continue;
      const key = `${r.graph}/${threading.threads}`;
      const seen = best.get(key);
      const at = new Map(seen?.at);
      for (const p of r.prefillAt ?? []) at.set(p.tokens, Math.max(at.get(p.tokens) ?? 0, p.tokensPerSecond));
      best.set(key, {
        graph: r.graph,
        threads: threading.threads,
        prefill: Math.max(seen?.prefill ?? 0, r.prefillTokensPerSecond),
        decode: Math.max(seen?.decode ?? 0, r.decodeTokensPerSecond),
        at,
      });
    }
  const flat = [...best.values()];
  const rows = flat.map((r) => {
    const base = flat.filter((b) => b.graph === r.graph).reduce((a, b) => (b.threads < a.threads ? b : a));
    return {
      graph: r.graph,
      threads: r.threads,
      prefillTokensPerSecond: r.prefill,
      decodeTokensPerSecond: r.decode,
      prefillSpeedup: r.prefill / base.prefill,
      decodeSpeedup: r.decode / base.decode,
      prefillAt: [...r.at]
        .sort(([a], [b]) => a - b)
        .map(([tokens, tokensPerSecond]) => ({ tokens, tokensPerSecond, speedup: tokensPerSecond / (base.at.get(tokens) ?? NaN) })),
    };
  });
  const first = runs[0];
  return {
    model: first.result.model,
    promptTokens: first.result.promptTokens,
    newTokens: first.result.newTokens,
    repeats: Object.fromEntries(
      [...new Set(runs.map((r) => r.threading.threads))].map((t) => [t, runs.filter((r) => r.threading.threads === t).length]),
    ),
    isolated: runs.every((r) => r.threading.isolated),
    cores: first.threading.cores,
    rows: rows.sort((a, b) => a.graph.localeCompare(b.graph) || a.threads - b.threads),
  };
}
