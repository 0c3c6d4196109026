import type { LoadedLm } from '../infer/causal-lm';
import { promptText } from '../infer/generate';
import { runPromptBatches, type PromptUnit } from '../infer/prompt-batches';
import {
  fetchDataFiles,
  getPerspective,
  isManifest,
  lexiconProxyScorer,
  manifestFiles,
  planPerspective,
  scorePerspective,
  type DataFile,
  type DataManifest,
  type EvalPrompt,
  type EvalRecord,
  type LoadError,
  type PerspectiveId,
  type PerspectiveScore,
  type Preset,
  type SavedRecords,
  type ScoringMode,
  type ToxicityScorer,
} from '../eval';

/** Where evaluation data comes from: the built-in offline set (listed by its manifest) or a data root URL. */
export type DataSource = { kind: 'offline'; base: string } | { kind: 'url'; base: string };

export interface PerspectiveFiles {
  files: DataFile[];
  missing: string[];
  failed: { path: string; reason: string }[];
}

export async function loadPerspectiveFiles(source: DataSource, id: PerspectiveId, preset: Preset): Promise<PerspectiveFiles> {
  const perspective = getPerspective(id);
  const base = source.base.endsWith('/') ? source.base : `${source.base}/`;
  if (source.kind === 'offline') {
    const res = await fetch(`${base}manifest.json`);
    const manifest: unknown = res.ok ? await res.json() : null;
    if (!isManifest(manifest)) throw new Error(`${base}manifest.json is missing or not a data manifest`);
    return fetchDataFiles(base, manifestFiles(manifest as DataManifest, id));
  }
  return fetchDataFiles(base, perspective.files(preset));
}

export interface EvalProgress {
  perspective: PerspectiveId;
  mode: ScoringMode;
  done: number;
  total: number;
  /** Records reused from an earlier, interrupted run. */
  reused: number;
}

export interface EvaluateOptions {
  preset: Preset;
  seed: number;
  mode: ScoringMode;
  toxicityScorer?: ToxicityScorer;
  /** Records finished earlier, by `recordKey`; they are not recomputed. */
  finished?: ReadonlyMap<string, EvalRecord>;
  /** Called with every newly finished record, so a caller can persist it at once. */
  onRecord?: (key: string, record: EvalRecord) => void | Promise<void>;
  onProgress?: (p: EvalProgress) => void;
  signal?: AbortSignal;
  /** Rows per forward pass; absent: chosen from the model and its device (`chooseBatchSize`). Results do not depend on it. */
  batchSize?: number;
}

export interface PerspectiveResult {
  perspective: PerspectiveId;
  mode: ScoringMode;
  score: PerspectiveScore;
  saved: SavedRecords;
  loadErrors: LoadError[];
  /** Records computed in this call (the rest were reused). */
  computed: number;
  /** Prompts that do not fit the model's context. */
  skipped: number;
}

/** Identifies one unit of work, stable across runs with the same plan. */
export function recordKey(perspective: PerspectiveId, mode: ScoringMode, prompt: EvalPrompt, sample: number): string {
  return `${perspective}|${mode}|${prompt.id}|${sample}`;
}

/** A per-record seed, so sampled outputs do not depend on the order records run in. */
function sampleSeed(seed: number, key: string): number {
  let h = seed >>> 0 || 0x9e3779b9;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/** Runs one perspective on a loaded model: plan → generate or score options per prompt → score. */
export async function evaluatePerspective(
  lm: LoadedLm,
  id: PerspectiveId,
  files: DataFile[],
  opts: EvaluateOptions,
): Promise<PerspectiveResult> {
  const perspective = getPerspective(id);
  const mode = opts.mode;
  const context = lm.spec.maxPositions;
  const fits = (p: EvalPrompt): boolean => {
    const text = p.input.kind === 'chat' ? promptText(lm, { messages: p.input.messages }).text : p.input.text;
    return lm.tokenizer.encode(text).length + (mode === 'generate' ? p.decoding.maxNewTokens : 8) <= context;
  };
  const plan = planPerspective(perspective, files, opts.preset, opts.seed, { mode, fits });
  // Perspectives trim few-shot demonstrations to fit; what still does not fit cannot run on this model.
  const runnable = plan.prompts.filter(({ prompt }) => fits(prompt));
  const skipped = plan.prompts.length - runnable.length;
  if (runnable.length === 0) {
    throw new Error(`${id}: none of its ${plan.prompts.length} prompts fits the context of ${lm.label} (${context} tokens)`);
  }
  const units = runnable.flatMap(({ item, prompt }) =>
    mode === 'generate'
      ? Array.from({ length: Math.max(1, prompt.decoding.n) }, (_, sample) => ({ item, prompt, sample }))
      : [{ item, prompt, sample: 0 }],
  );
  const records: (EvalRecord | undefined)[] = units.map(() => undefined);
  const pending: (PromptUnit & { index: number; key: string })[] = [];
  let reused = 0;
  for (const [index, { item, prompt, sample }] of units.entries()) {
    const key = recordKey(id, mode, prompt, sample);
    const record = opts.finished?.get(key);
    if (record) {
      records[index] = record;
      reused++;
    } else pending.push({ item, prompt, sample, seed: sampleSeed(opts.seed, key), index, key });
  }
  let computed = 0;
  opts.onProgress?.({ perspective: id, mode, done: reused, total: units.length, reused });
  if (opts.signal?.aborted) throw new DOMException('evaluation cancelled', 'AbortError');
  // Each batch's records are stored before the next batch starts: a reload loses one batch at most.
  for await (const batch of runPromptBatches(lm, pending, mode, {
    ...(opts.batchSize !== undefined ? { batchSize: opts.batchSize } : {}),
    ...(opts.signal ? { signal: opts.signal } : {}),
  })) {
    for (const { index, record } of batch) {
      const unit = pending[index];
      records[unit.index] = record;
      computed++;
      await opts.onRecord?.(unit.key, record);
    }
    opts.onProgress?.({ perspective: id, mode, done: reused + computed, total: units.length, reused });
  }
  const toxicityScorer = opts.toxicityScorer ?? lexiconProxyScorer();
  const done = records.filter((r): r is EvalRecord => r !== undefined);
  const scored = await scorePerspective(perspective, done, mode, { run: plan.run, toxicityScorer });
  const score = skipped
    ? {
        ...scored,
        notes: [
          ...(scored.notes ?? []),
          `${skipped} of ${plan.prompts.length} prompts are longer than the model's context (${context} tokens) and were skipped`,
        ],
      }
    : scored;
  const parsed =
    mode === 'generate'
      ? done.map((r) =>
          r.parsed !== undefined || r.output === undefined
            ? r
            : { ...r, parsed: perspective.parse(r.item, r.prompt, r.output, { seed: opts.seed }) },
        )
      : done;
  return {
    perspective: id,
    mode,
    score,
    saved: { format: 'ctlab-eval-records', version: 1, perspective: id, mode, run: score.run ?? plan.run, records: parsed },
    loadErrors: plan.errors,
    computed,
    skipped,
  };
}
