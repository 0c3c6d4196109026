import { getPreset, type PerspectiveId, type ScoringMode, type ToxicityScorer } from '../eval';
import { loadCausalLm, type Device, type LoadedLm } from '../infer/causal-lm';
import { generate } from '../infer/generate';
import { storedGraph } from '../infer/graph-store';
import { toxicityClassifierFrom, type LoadedClassifier } from '../infer/toxicity-classifier';
import { downloadModel, openCachedModel, type CachedModel } from '../model/download';
import type { ModelSource } from '../model/sources';
import type { RunStore } from '../storage/run-store';
import type { ProgressEvent, ShardCache } from '../storage/shard-cache';
import { evaluatePerspective, loadPerspectiveFiles, type DataSource } from './evaluate';
import type { ResultEntry, ResultsDoc, VariantInfo } from './results';
import type { VariantReport } from '../variants/report';
import type { VariantSpec } from './variants';
import { plannedCells } from './units';

export { plannedCells };

export interface CalibrationPlan {
  source: 'self' | 'builtin' | 'url';
  url?: string;
  samples: number;
  seqLen: number;
}

/** Everything a run needs; stored with the run so a reload can resume it. */
export interface RunPlan {
  /** A source to download from, or a model already complete in the cache. */
  model: ModelSource | { kind: 'cached'; key: string };
  variants: VariantSpec[];
  perspectives: PerspectiveId[];
  preset: string;
  mode: ScoringMode | 'both';
  seed: number;
  data: DataSource;
  device: Device | 'auto';
  calibration: CalibrationPlan;
  /** A text-classification model that scores toxicity; absent: the offline lexicon proxy. */
  toxicityModel?: ModelSource;
  /** A shard's share: the `variant|perspective|mode` cells to evaluate; absent: every cell. */
  only?: string[];
  /** Variants already compressed elsewhere (an exported folder), by variant id: loaded, not compressed again. */
  variantSources?: Record<string, ModelSource>;
}

export interface RunDoc {
  id: string;
  createdAt: number;
  updatedAt: number;
  plan: RunPlan;
  status: 'running' | 'done' | 'failed' | 'cancelled';
  error?: string;
  modelKey?: string;
  modelLabel?: string;
  variants: Record<string, VariantInfo>;
}

export type RunEvent =
  | { phase: 'download'; progress: ProgressEvent }
  | { phase: 'compress'; variant: string; message: string; fraction: number | null }
  | { phase: 'evaluate'; variant: string; perspective: PerspectiveId; mode: ScoringMode; done: number; total: number; reused: number }
  | { phase: 'variant-done'; variant: string }
  | { phase: 'done'; results: number }
  | { phase: 'error'; message: string };

/** Makes (or finds) a compressed variant of the base model in the cache and returns its cache key. */
export type CompressFn = (
  base: CachedModel,
  spec: VariantSpec,
  calibration: CalibrationPlan & { seed: number; device: Device | 'auto' },
  onProgress: (message: string, fraction: number | null) => void,
  signal?: AbortSignal,
) => Promise<{ key: string; report?: unknown }>;

export interface RunDeps {
  cache: ShardCache;
  store: RunStore;
  compress?: CompressFn;
}

export function newRun(plan: RunPlan, id: string = crypto.randomUUID()): RunDoc {
  const now = Date.now();
  return { id, createdAt: now, updatedAt: now, plan, status: 'running', variants: {} };
}

/**
 * Runs (or resumes) a plan: download → compress each variant → evaluate each variant on each
 * perspective. Records and results are stored as they finish; what is already stored is reused.
 */
export async function executeRun(
  runId: string,
  deps: RunDeps,
  onEvent: (e: RunEvent) => void = () => {},
  signal?: AbortSignal,
): Promise<ResultsDoc> {
  const { cache, store } = deps;
  let classifier: LoadedClassifier | undefined;
  const doc = await store.getRun(runId);
  if (!doc) throw new Error(`no run ${runId}`);
  const plan = doc.plan;
  doc.status = 'running';
  delete doc.error;
  await store.saveRun(doc);
  try {
    const base =
      plan.model.kind === 'cached'
        ? await openCachedModel(cache, plan.model.key)
        : await downloadModel(cache, plan.model, { onProgress: (progress) => onEvent({ phase: 'download', progress }), signal });
    doc.modelKey = base.key;
    doc.modelLabel = base.label;
    const preset = getPreset(plan.preset);
    const cells = plannedCells(plan);
    const files = new Map<PerspectiveId, Awaited<ReturnType<typeof loadPerspectiveFiles>>>();
    const only = plan.only ? new Set(plan.only) : undefined;
    for (const { perspective, mode } of cells) {
      if (files.has(perspective) || (only && !plan.variants.some((v) => only.has(`${v.id}|${perspective}|${mode}`)))) continue;
      const loaded = await loadPerspectiveFiles(plan.data, perspective, preset);
      if (loaded.failed.length)
        throw new Error(`${perspective}: could not load ${loaded.failed.map((f) => `${f.path} (${f.reason})`).join(', ')}`);
      files.set(perspective, loaded);
    }
    const done = new Set((await store.resultsOf(runId)).map((r) => `${r.variant}|${r.perspective}|${r.mode}`));
    // Outside a shard's share counts as done: neither compressed nor evaluated here.
    for (const v of plan.variants)
      for (const c of cells) if (only && !only.has(`${v.id}|${c.perspective}|${c.mode}`)) done.add(`${v.id}|${c.perspective}|${c.mode}`);
    // Loaded only when a toxicity cell is still to run (a resumed run may have finished them all).
    const pending = cells.filter((c) => plan.variants.some((v) => !done.has(`${v.id}|${c.perspective}|${c.mode}`)));
    classifier = await toxicityClassifierFor(cache, plan, pending, onEvent, signal);

    for (const spec of plan.variants) {
      if (signal?.aborted) throw new DOMException('run cancelled', 'AbortError');
      if (only && !cells.some((c) => only.has(`${spec.id}|${c.perspective}|${c.mode}`))) continue;
      const info = doc.variants[spec.id] ?? { id: spec.id, label: spec.label };
      if (!info.key) {
        const exported = plan.variantSources?.[spec.id];
        if (spec.method === 'dense') info.key = base.key;
        else if (exported) {
          const made = await downloadModel(cache, exported, { onProgress: (progress) => onEvent({ phase: 'download', progress }), signal });
          info.key = made.key;
        } else {
          if (!deps.compress) throw new Error(`${spec.label}: compression is not available in this build`);
          const made = await deps.compress(
            base,
            spec,
            { ...plan.calibration, seed: plan.seed, device: plan.device },
            (message, fraction) => onEvent({ phase: 'compress', variant: spec.id, message, fraction }),
            signal,
          );
          info.key = made.key;
          if (made.report !== undefined) info.report = made.report;
        }
        doc.variants[spec.id] = info;
        await store.saveRun(doc);
      }
      const todo = cells.filter((c) => !done.has(`${spec.id}|${c.perspective}|${c.mode}`));
      if (todo.length === 0 && info.tokensPerSecond !== undefined) continue;
      if (info.deleted) throw new Error(`${spec.label}: ${info.deleted}. Start a new run to evaluate it again.`);
      const lm = await loadCausalLm(cache, info.key, { device: plan.device });
      try {
        if (info.tokensPerSecond === undefined) await measure(cache, lm, info);
        doc.variants[spec.id] = info;
        await store.saveRun(doc);
        const finished = await store.finishedRecords(runId, spec.id);
        for (const { perspective, mode } of todo) {
          const r = await evaluatePerspective(lm, perspective, files.get(perspective)!.files, {
            preset,
            seed: plan.seed,
            mode,
            ...(classifier ? { toxicityScorer: classifier.scorer } : {}),
            finished,
            signal,
            onRecord: (key, record) => store.putRecord(runId, spec.id, key, record),
            onProgress: (p) =>
              onEvent({ phase: 'evaluate', variant: spec.id, perspective, mode, done: p.done, total: p.total, reused: p.reused }),
          });
          await store.putResult(runId, toEntry(spec.id, r));
          done.add(`${spec.id}|${perspective}|${mode}`);
        }
      } finally {
        await lm.model.dispose();
      }
      onEvent({ phase: 'variant-done', variant: spec.id });
    }
    doc.status = 'done';
    await store.saveRun(doc);
    const results = await store.resultsOf(runId);
    onEvent({ phase: 'done', results: results.length });
    return resultsDoc(doc, results);
  } catch (err) {
    const cancelled = (err as Error).name === 'AbortError' || signal?.aborted;
    doc.status = cancelled ? 'cancelled' : 'failed';
    doc.error = (err as Error).message;
    await store.saveRun(doc);
    onEvent({ phase: 'error', message: doc.error });
    throw err;
  } finally {
    await classifier?.dispose();
  }
}

/** The plan's toxicity classifier, downloaded (or found in the cache) and loaded, when a toxicity cell will run. */
async function toxicityClassifierFor(
  cache: ShardCache,
  plan: RunPlan,
  cells: { perspective: PerspectiveId }[],
  onEvent: (e: RunEvent) => void,
  signal?: AbortSignal,
): Promise<LoadedClassifier | undefined> {
  if (!plan.toxicityModel || !cells.some((c) => c.perspective === 'toxicity')) return undefined;
  return toxicityClassifierFrom(cache, plan.toxicityModel, { onProgress: (progress) => onEvent({ phase: 'download', progress }), signal });
}

/** Re-scoring with a classifier instead of the lexicon proxy (the CLI's `score --toxicity-model`). */
export async function withToxicityClassifier<T>(
  cache: ShardCache,
  src: ModelSource | undefined,
  work: (scorer: ToxicityScorer | undefined) => Promise<T>,
  onProgress?: (e: ProgressEvent) => void,
): Promise<T> {
  if (!src) return work(undefined);
  const classifier = await toxicityClassifierFrom(cache, src, { onProgress });
  try {
    return await work(classifier.scorer);
  } finally {
    await classifier.dispose();
  }
}

/** Size on disk of the graph the variant runs, and its decode speed on a short greedy generation. */
async function measure(cache: ShardCache, lm: LoadedLm, info: VariantInfo): Promise<void> {
  const graph = await storedGraph(cache, lm.key);
  if (graph) info.bytes = graph.bytes;
  const bytes = (info.report as VariantReport | undefined)?.bytes;
  if (info.bytes && bytes) info.idealBytes = info.bytes - bytes.linearsStored + bytes.linearsIdeal;
  // The first passes pay for kernel compilation, allocation and (on a small model, where the
  // JavaScript around each step dominates) the JIT warming up; they are not timed. The length is
  // fixed, since a variant that ends its text after two tokens would report a meaningless speed,
  // and the median of three passes is kept.
  const warmUntil = performance.now() + 1000;
  for (let i = 0; i < 2 || performance.now() < warmUntil; i++) {
    await generate(lm, { prompt: 'Once upon a time', maxNewTokens: 24, minNewTokens: 24 });
  }
  const speeds: number[] = [];
  for (let i = 0; i < 3; i++) {
    const out = await generate(lm, { prompt: 'Once upon a time', maxNewTokens: 24, minNewTokens: 24 });
    if (out.tokensPerSecond !== null) speeds.push(out.tokensPerSecond);
  }
  speeds.sort((a, b) => a - b);
  info.tokensPerSecond = speeds.length ? speeds[speeds.length >> 1] : undefined;
  info.device = lm.device;
  info.adapter = lm.adapter;
  if (lm.fallbackReason) info.deviceNote = lm.fallbackReason;
  info.precision = lm.precision;
  info.precisionNote = lm.precisionReason;
}

function toEntry(variant: string, r: Awaited<ReturnType<typeof evaluatePerspective>>): ResultEntry {
  return {
    variant,
    perspective: r.perspective,
    mode: r.mode,
    score: r.score.score,
    refusalRate: r.score.refusalRate,
    n: r.score.n,
    ...(r.score.scorer ? { scorer: r.score.scorer } : {}),
    breakdown: r.score.breakdown,
    ...(r.score.notes ? { notes: r.score.notes } : {}),
    run: r.score.run,
    loadErrors: r.loadErrors,
    records: r.saved,
  };
}

export function resultsDoc(doc: RunDoc, results: ResultEntry[]): ResultsDoc {
  const order = new Map(doc.plan.variants.map((v, i) => [v.id, i]));
  const cells = plannedCells(doc.plan);
  const cellOrder = new Map(cells.map((c, i) => [`${c.perspective}|${c.mode}`, i]));
  const sorted = [...results].sort(
    (a, b) =>
      (order.get(a.variant) ?? 99) - (order.get(b.variant) ?? 99) ||
      (cellOrder.get(`${a.perspective}|${a.mode}`) ?? 99) - (cellOrder.get(`${b.perspective}|${b.mode}`) ?? 99),
  );
  const firstInfo = Object.values(doc.variants)[0];
  return {
    format: 'ctlab-results',
    version: 1,
    createdAt: new Date(doc.createdAt).toISOString(),
    model: { key: doc.modelKey ?? '', label: doc.modelLabel ?? '' },
    settings: {
      preset: doc.plan.preset,
      seed: doc.plan.seed,
      modes: [...new Set(cells.map((c) => c.mode))],
      perspectives: [...new Set(cells.map((c) => c.perspective))],
      data: doc.plan.data.kind === 'offline' ? 'built-in offline set' : doc.plan.data.base,
      device: firstInfo?.device ?? String(doc.plan.device),
      adapter: firstInfo?.adapter ?? null,
      ...(firstInfo?.deviceNote ? { deviceNote: firstInfo.deviceNote } : {}),
      ...(firstInfo?.precision ? { precision: firstInfo.precision, precisionNote: firstInfo.precisionNote } : {}),
    },
    variants: doc.plan.variants.map((v) => doc.variants[v.id] ?? { id: v.id, label: v.label }),
    results: sorted,
  };
}
