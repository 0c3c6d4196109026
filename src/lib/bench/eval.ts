import {
  fetchDataFiles,
  getPerspective,
  getPreset,
  isManifest,
  manifestFiles,
  PERSPECTIVE_IDS,
  planPerspective,
  type EvalRecord,
  type ScoringMode,
} from '../eval';
import { chooseBatchSize } from '../infer/batch-size';
import { loadCausalLm, type Device, type LoadedLm } from '../infer/causal-lm';
import { encodePrompt, promptText } from '../infer/generate';
import { prefixTreeTokens, runPromptBatches, type PromptUnit } from '../infer/prompt-batches';
import { parseModelSpec } from '../model/config';
import { downloadModel } from '../model/download';
import { randomWeights } from '../model/random-model';
import { writeSafetensors } from '../model/safetensors';
import { filesSource, type ModelSource } from '../model/sources';
import { expectedTensors } from '../model/weights';
import type { ShardCache } from '../storage/shard-cache';
import { smollm2Config } from './decode';

export interface EvalBenchOptions {
  /** The small real model (the CLI serves stories260k from the local models folder). */
  model: ModelSource;
  /** Base URL of SmolLM2-135M-Instruct's tokenizer folder, for the SmolLM2-shaped random model; absent: that model is left out. */
  smollmTokenizerUrl?: string;
  /** Decoder layers of the SmolLM2-shaped model (30 in the real one); 0 leaves that model out. */
  layers?: number;
  /** Base URL of the offline evaluation data (its manifest.json). */
  dataUrl: string;
  device?: Device | 'auto';
  /** The preset whose prompts are timed (default `smoke`). */
  preset?: string;
  /** Evaluation units per mode and model (default `BENCH_ITEMS`), taken in turn from every perspective's prompts. */
  items?: number;
  /** New tokens per generation at most (default 32): the random model never ends on its own. */
  maxNewTokens?: number;
  /** The batched side's batch size; absent: the rule (`chooseBatchSize`). */
  batchSize?: number;
  /** Passes of each side, alternating which goes first (default `BENCH_ROUNDS`); each side's fastest counts. */
  rounds?: number;
  onStatus?: (msg: string) => void;
}

export interface EvalBenchRow {
  model: string;
  device: Device;
  mode: ScoringMode;
  items: number;
  /** Items per second one at a time, and batched. */
  single: number;
  batched: number;
  /** The batched side's batch size: given, or the rule's for this model's longest unit. */
  batchSize: number;
  speedup: number;
  /** Units whose output (text, or every option score within 1e-4) is the same both ways. */
  identical: number;
  /** Items per second of each round (`single` and `batched` above are each side's fastest). */
  rounds: { single: number; batched: number }[];
  /**
   * The units' prompt tokens, and the distinct tokens of their prefix tree: the fewest a batched
   * run could prefill with every shared prefix run once, so `promptTokens / prefixTreeTokens`
   * bounds what sharing prefixes can save of the prefill.
   */
  promptTokens: number;
  prefixTreeTokens: number;
}

export interface EvalBenchResult {
  preset: string;
  maxNewTokens: number;
  /** Longest sequence run (prompt and new tokens). */
  context: number;
  rows: EvalBenchRow[];
}

/**
 * Longest sequence (prompt and new tokens) the bench runs: longer few-shot prompts of a large
 * context would make a single row's prefill (logits of every position over a 49k vocabulary)
 * the measure instead of the batching.
 */
export const BENCH_CONTEXT = 512;

/**
 * Units per mode and model by default: about ten a perspective, so that prompts sharing a
 * perspective's demonstrations meet in a batch as they do in a whole run.
 */
export const BENCH_ITEMS = 96;

/** Rounds per mode and model by default: two, so that each side goes first once. */
export const BENCH_ROUNDS = 2;

/** The preset's prompts of every perspective that offers `mode` and fits the model, `count` of them taken in turn. */
async function benchUnits(
  lm: LoadedLm,
  dataUrl: string,
  presetName: string,
  mode: ScoringMode,
  count: number,
  maxNewTokens: number,
): Promise<PromptUnit[]> {
  const base = dataUrl.endsWith('/') ? dataUrl : `${dataUrl}/`;
  const manifest: unknown = await (await fetch(`${base}manifest.json`)).json();
  if (!isManifest(manifest)) throw new Error(`${base}manifest.json is not a data manifest`);
  const preset = getPreset(presetName);
  const limit = Math.min(lm.spec.maxPositions, BENCH_CONTEXT);
  const fits = (tokens: number) => tokens + (mode === 'generate' ? maxNewTokens : 8) <= limit;
  const lists: PromptUnit[][] = [];
  for (const id of PERSPECTIVE_IDS) {
    const perspective = getPerspective(id);
    if (!perspective.modes.includes(mode)) continue;
    const { files } = await fetchDataFiles(base, manifestFiles(manifest, id));
    const length = (p: PromptUnit['prompt']) =>
      lm.tokenizer.encode(p.input.kind === 'chat' ? promptText(lm, { messages: p.input.messages }).text : p.input.text).length;
    const plan = planPerspective(perspective, files, preset, 0, { mode, fits: (p) => fits(length(p)) });
    lists.push(
      plan.prompts
        .filter(({ prompt }) => fits(length(prompt)))
        .map(({ item, prompt }, i) => ({
          item,
          prompt: { ...prompt, decoding: { ...prompt.decoding, maxNewTokens: Math.min(prompt.decoding.maxNewTokens, maxNewTokens) } },
          sample: 0,
          seed: i + 1,
        })),
    );
  }
  const units: PromptUnit[] = [];
  for (let k = 0; units.length < count && lists.some((l) => k < l.length); k++)
    for (const l of lists) if (k < l.length && units.length < count) units.push(l[k]);
  return units;
}

async function timed(lm: LoadedLm, units: PromptUnit[], mode: ScoringMode, batchSize: number | undefined) {
  const records: EvalRecord[] = new Array<EvalRecord>(units.length);
  const start = performance.now();
  for await (const batch of runPromptBatches(lm, units, mode, batchSize === undefined ? {} : { batchSize }))
    for (const { index, record } of batch) records[index] = record;
  return { seconds: (performance.now() - start) / 1000, records };
}

function same(a: EvalRecord, b: EvalRecord): boolean {
  if (a.output !== undefined || b.output !== undefined) return a.output === b.output;
  const x = a.optionLogLikelihoods ?? [];
  const y = b.optionLogLikelihoods ?? [];
  return x.length === y.length && x.every((v, i) => Math.abs(v - y[i]) < 1e-4);
}

async function benchModel(lm: LoadedLm, name: string, opts: EvalBenchOptions, rows: EvalBenchRow[]): Promise<void> {
  const maxNewTokens = opts.maxNewTokens ?? 32;
  for (const mode of ['generate', 'likelihood'] as const) {
    const units = await benchUnits(lm, opts.dataUrl, opts.preset ?? 'smoke', mode, opts.items ?? BENCH_ITEMS, maxNewTokens);
    if (!units.length) continue;
    // Warm-up of both shapes: the first passes pay for allocation and the JIT.
    await timed(lm, units.slice(0, 2), mode, 1);
    await timed(lm, units.slice(0, 4), mode, opts.batchSize);
    const promptIds = units.map((u) =>
      encodePrompt(lm, u.prompt.input.kind === 'chat' ? { messages: u.prompt.input.messages } : { prompt: u.prompt.input.text }),
    );
    const longest = Math.max(...units.map((u, i) => promptIds[i].length + (mode === 'generate' ? u.prompt.decoding.maxNewTokens : 8)));
    const batchSize = opts.batchSize ?? chooseBatchSize(lm.spec, lm.device, longest);
    // Rounds alternate which side goes first: a side's first pass over every prompt length also
    // grows the runtime's memory for the other, so one pass each would favour the second.
    const rounds = Math.max(1, opts.rounds ?? BENCH_ROUNDS);
    const seconds = { single: [] as number[], batched: [] as number[] };
    let single!: Awaited<ReturnType<typeof timed>>;
    let batched!: Awaited<ReturnType<typeof timed>>;
    for (let r = 0; r < rounds; r++) {
      for (const side of r % 2 === 0 ? (['single', 'batched'] as const) : (['batched', 'single'] as const)) {
        opts.onStatus?.(
          side === 'single'
            ? `${name}: ${units.length} ${mode} units one at a time (round ${r + 1} of ${rounds})`
            : `${name}: ${units.length} ${mode} units in batches (${opts.batchSize ?? 'the rule'}: ${batchSize} for the longest; round ${r + 1} of ${rounds})`,
        );
        const run = await timed(lm, units, mode, side === 'single' ? 1 : opts.batchSize);
        seconds[side].push(run.seconds);
        if (side === 'single') single = run;
        else batched = run;
      }
    }
    // Other processes only slow a pass down: each side's fastest round counts.
    const best = (xs: number[]) => Math.min(...xs);
    const row: EvalBenchRow = {
      model: name,
      device: lm.device,
      mode,
      items: units.length,
      single: units.length / best(seconds.single),
      batched: units.length / best(seconds.batched),
      batchSize,
      speedup: best(seconds.single) / best(seconds.batched),
      rounds: seconds.single.map((t, i) => ({ single: units.length / t, batched: units.length / seconds.batched[i] })),
      identical: units.filter((_, i) => same(single.records[i], batched.records[i])).length,
      promptTokens: promptIds.reduce((n, ids) => n + ids.length, 0),
      prefixTreeTokens: prefixTreeTokens(promptIds),
    };
    rows.push(row);
    // Said at once as well: a later model that fails does not take these figures with it.
    opts.onStatus?.(
      `${name} ${mode}: ${row.single.toFixed(2)} items/s one at a time, ${row.batched.toFixed(2)} batched (${row.speedup.toFixed(2)}×), ${row.identical}/${row.items} the same`,
    );
  }
}

/** A SmolLM2-135M-shaped checkpoint with `layers` layers, random fp32 weights and the real tokenizer, as dropped files. */
async function smollmFiles(tokenizerUrl: string, layers: number): Promise<File[]> {
  const config = { ...smollm2Config(layers), torch_dtype: 'float32' };
  const spec = parseModelSpec(config);
  const weights = randomWeights(spec, 5);
  const tensors = [...expectedTensors(spec)].map(([name, shape]) => {
    const w = weights.get(name)!;
    return { name, dtype: 'F32' as const, shape, data: new Uint8Array(w.buffer, w.byteOffset, w.byteLength) };
  });
  const base = tokenizerUrl.replace(/\/+$/, '');
  const fetched = async (file: string) => {
    const res = await fetch(`${base}/${file}`);
    if (!res.ok) throw new Error(`${base}/${file}: HTTP ${res.status}`);
    return new File([await res.arrayBuffer()], file);
  };
  return [
    new File([JSON.stringify(config)], 'config.json'),
    await fetched('tokenizer.json'),
    await fetched('tokenizer_config.json'),
    new File([writeSafetensors(tensors) as Uint8Array<ArrayBuffer>], 'model.safetensors'),
  ];
}

/**
 * Evaluation throughput one prompt at a time against batches, in items per second, for a small
 * real model and a SmolLM2-135M-shaped random one, on a preset's prompts (smoke unless told), in both modes;
 * each row also says how many outputs came out the same both ways.
 */
export async function benchEval(cache: ShardCache, opts: EvalBenchOptions): Promise<EvalBenchResult> {
  // An unknown preset is refused before any model loads.
  getPreset(opts.preset ?? 'smoke');
  const rows: EvalBenchRow[] = [];
  const device = opts.device ?? 'auto';
  const small = await downloadModel(cache, opts.model);
  const lm = await loadCausalLm(cache, small.key, { device });
  try {
    await benchModel(lm, small.label, opts, rows);
  } finally {
    await lm.model.dispose();
  }
  const layers = opts.layers ?? 4;
  if (opts.smollmTokenizerUrl && layers > 0) {
    const name = `SmolLM2-135M shape, ${layers} of 30 layers, random weights`;
    opts.onStatus?.(`writing ${name}`);
    const model = await downloadModel(
      cache,
      filesSource(await smollmFiles(opts.smollmTokenizerUrl, layers), `bench-eval-smollm2-${layers}l`),
    );
    try {
      const big = await loadCausalLm(cache, model.key, { device });
      try {
        await benchModel(big, name, opts, rows);
      } finally {
        await big.model.dispose();
      }
    } finally {
      await cache.deleteModel(model.key);
    }
  }
  return { preset: opts.preset ?? 'smoke', maxNewTokens: opts.maxNewTokens ?? 32, context: BENCH_CONTEXT, rows };
}
