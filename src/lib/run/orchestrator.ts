import { getPreset, type PerspectiveId, type ToxicityScorer } from '../eval';
import { loadCausalLm, type LoadedLm } from '../infer/causal-lm';
import { generate } from '../infer/generate';
import { storedGraph } from '../infer/graph-store';
import { toxicityClassifierFrom, type LoadedClassifier } from '../infer/toxicity-classifier';
import { downloadModel, openCachedModel } from '../model/download';
import type { ModelSource } from '../model/sources';
import type { ProgressEvent, ShardCache } from '../storage/shard-cache';
import { storedBytes } from '../storage/manifest';
import type { CompressFn } from '../variants/run-compress';
import { specOf } from '../variants/spec';
import type { RunStore } from './run-store';
import { evaluatePerspective, loadPerspectiveFiles } from './evaluate';
import { BUILTIN_HELDOUT, denseFidelity, denseReference, variantFidelity, type StoredReference } from './fidelity-step';
import type { ResultEntry, ResultsDoc } from './results';
import { ratesFromHistory } from './cost-model';
import { estimatePlan } from './planner';
import { plannedCells } from './units';
import { steadySpeed } from './decode-speed';
import type { RunDoc, RunEvent, RunPlan, VariantInfo, VariantTimings } from './types';

export { plannedCells };

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
  // A plan stored by an earlier version holds variant records: they become specs here, once.
  const plan: RunPlan = { ...doc.plan, variants: doc.plan.variants.map(specOf) };
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
    doc.modelBytes = storedBytes(base.manifest);
    const rates = ratesFromHistory(
      (await store.listRuns()).filter((r) => r.id !== runId),
      base.key,
    );
    if (!doc.estimate) {
      const { minutes, calibratedFrom } = estimatePlan(plan, doc.modelBytes, rates);
      doc.estimate = { minutes, calibratedFrom };
    }
    // Saved at once, so the run history names the model while the run goes on.
    await store.saveRun(doc);
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
    onEvent({
      phase: 'plan',
      outline: {
        variants: plan.variants.map((v) => {
          const info = doc.variants[v.id];
          const finished = info?.tokensPerSecond !== undefined && cells.every((c) => done.has(`${v.id}|${c.perspective}|${c.mode}`));
          return {
            id: v.id,
            label: v.label,
            method: v.method,
            compressed: v.method === 'dense' || info?.key !== undefined,
            finished,
            ...(info?.timings ? { timings: info.timings } : {}),
          };
        }),
        cells,
        done: [...done],
        preset: plan.preset,
        modelBytes: doc.modelBytes,
        rates,
      },
    });
    classifier = await toxicityClassifierFor(cache, plan, pending, onEvent, signal);
    const denseId = plan.variants.find((v) => v.method === 'dense')?.id ?? 'dense';
    let stored: StoredReference | undefined;
    // Dense's reference, computed once per run and stored; from the dense model already loaded, or
    // by loading dense briefly before a variant listed ahead of it (never two models at once).
    const reference = async (denseLm?: LoadedLm): Promise<StoredReference> => {
      stored ??= await store.reference(runId);
      if (stored) return stored;
      const lm = denseLm ?? (await loadCausalLm(cache, base.key, { device: plan.device }));
      try {
        const progress = (done: number, total: number) => onEvent({ phase: 'fidelity', variant: denseId, done, total });
        stored = await denseReference(lm, plan.heldOut ?? BUILTIN_HELDOUT, progress, signal);
      } finally {
        if (!denseLm) await lm.model.dispose();
      }
      await store.putReference(runId, stored);
      return stored;
    };

    for (const spec of plan.variants) {
      if (signal?.aborted) throw new DOMException('run cancelled', 'AbortError');
      if (only && !cells.some((c) => only.has(`${spec.id}|${c.perspective}|${c.mode}`))) continue;
      const info = doc.variants[spec.id] ?? { id: spec.id, label: spec.label };
      const timings: VariantTimings = (info.timings ??= {});
      const todo = cells.filter((c) => !done.has(`${spec.id}|${c.perspective}|${c.mode}`));
      if (info.key && todo.length === 0 && info.tokensPerSecond !== undefined && (info.fidelity || info.deleted)) continue;
      onEvent({ phase: 'variant-start', variant: spec.id });
      if (!info.key) {
        const exported = plan.variantSources?.[spec.id];
        if (spec.method === 'dense') info.key = base.key;
        else if (exported) {
          const made = await downloadModel(cache, exported, { onProgress: (progress) => onEvent({ phase: 'download', progress }), signal });
          info.key = made.key;
        } else {
          if (!deps.compress) throw new Error(`${spec.label}: compression is not available in this build`);
          const compressStart = performance.now();
          const made = await deps.compress(
            base,
            spec,
            { ...plan.calibration, seed: plan.seed, device: plan.device },
            (message, fraction) => onEvent({ phase: 'compress', variant: spec.id, message, fraction }),
            signal,
          );
          info.key = made.key;
          if (made.report !== undefined) info.report = made.report;
          timings.compressMs = (timings.compressMs ?? 0) + performance.now() - compressStart;
        }
        doc.variants[spec.id] = info;
        await store.saveRun(doc);
      }
      if (info.deleted) throw new Error(`${spec.label}: ${info.deleted}. Start a new run to evaluate it again.`);
      const isDense = info.key === base.key;
      if (!info.fidelity && !isDense) await reference();
      onEvent({ phase: 'load', variant: spec.id });
      const loadStart = performance.now();
      const lm = await loadCausalLm(cache, info.key, {
        device: plan.device,
        onGraphProgress: (done, total) => onEvent({ phase: 'graph', variant: spec.id, done, total }),
      });
      try {
        if (info.tokensPerSecond === undefined) await measure(cache, lm, info);
        if (!info.fidelity) {
          const progress = (done: number, total: number) => onEvent({ phase: 'fidelity', variant: spec.id, done, total });
          info.fidelity = isDense ? denseFidelity(await reference(lm)) : await variantFidelity(lm, await reference(), progress, signal);
        }
        timings.loadMs = (timings.loadMs ?? 0) + performance.now() - loadStart;
        doc.variants[spec.id] = info;
        await store.saveRun(doc);
        const finished = await store.finishedRecords(runId, spec.id);
        for (const { perspective, mode } of todo) {
          const evalStart = performance.now();
          const r = await evaluatePerspective(lm, perspective, files.get(perspective)!.files, {
            preset,
            seed: plan.seed,
            mode,
            ...(classifier ? { toxicityScorer: classifier.scorer } : {}),
            finished,
            signal,
            ...(plan.batchSize !== undefined ? { batchSize: plan.batchSize } : {}),
            onRecord: (key, record) => store.putRecord(runId, spec.id, key, record),
            onProgress: (p) =>
              onEvent({ phase: 'evaluate', variant: spec.id, perspective, mode, done: p.done, total: p.total, reused: p.reused }),
          });
          timings.evaluateMs = (timings.evaluateMs ?? 0) + performance.now() - evalStart;
          timings.evaluatedItems = (timings.evaluatedItems ?? 0) + r.computed;
          await store.putResult(runId, toEntry(spec.id, r));
          done.add(`${spec.id}|${perspective}|${mode}`);
          await store.saveRun(doc);
        }
      } finally {
        await lm.model.dispose();
      }
      onEvent({ phase: 'variant-done', variant: spec.id, timings: { ...timings } });
    }
    doc.status = 'done';
    doc.finishedAt = Date.now();
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
  const bytes = info.report?.bytes;
  if (info.bytes && bytes) info.idealBytes = info.bytes - bytes.linearsStored + bytes.linearsIdeal;
  // The length is fixed: a variant that ends its text after two tokens would report a meaningless speed.
  info.tokensPerSecond = await steadySpeed(
    async () => (await generate(lm, { prompt: 'Once upon a time', maxNewTokens: 24, minNewTokens: 24 })).tokensPerSecond,
  );
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
  const finished = doc.plan.variants.filter((v) =>
    cells.every((c) => results.some((r) => r.variant === v.id && r.perspective === c.perspective && r.mode === c.mode)),
  );
  const partial = doc.status !== 'done';
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
    ...(partial ? { partial: { done: finished.length, total: doc.plan.variants.length } } : {}),
  };
}
