import { describeAdapter, type AdapterReport } from '../gpu/device';
import { isClassifierConfig } from '../model/classifier';
import { downloadModel } from '../model/download';
import { KNOWN_MODELS, formatParams } from '../model/known-models';
import { trackedCallback } from '../util/callback';
import { hubSource, sourceFromDescriptor, urlSource, type ModelSource } from '../model/sources';
import { storedBytes, type ModelManifest } from '../storage/manifest';
import { ShardCache, type ProgressFn } from '../storage/shard-cache';
import { browserEstimate } from '../storage/quota';
import { formatBytes } from '../util/format';
import { markDeletedInRuns, RunStore } from '../run/run-store';
import { deleteModelAndVariants, type DeletedModels } from '../variants/delete-model';

// Kept here for `state/automation.ts`, which imports it from the library.

/** An entry of the model chooser. */
export interface ModelChoice {
  id: string;
  label: string;
  kind: 'hub' | 'local';
  detail: string;
  source: ModelSource;
}

export interface CachedModelSummary {
  key: string;
  label: string;
  status: ModelManifest['status'];
  bytes: number;
  error?: string;
  files: { name: string; size: number | null; storedBytes: number; complete: boolean }[];
  updatedAt: number;
  /** Where a partial download can be resumed from; null for local files (they must be chosen again). */
  resumeFrom: ModelSource | null;
}

export interface StorageSummary {
  usage: number | null;
  quota: number | null;
  persisted: boolean | null;
}

/** Three significant digits (`2.47 GB`, `269 MB`): download sizes a person compares across models. */
export function formatDownloadSize(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let i = 0;
  let v = bytes;
  while (v >= 999.5 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${i === 0 ? v : Number(v.toPrecision(3))} ${units[i]}`;
}

/** The catalog's models by hub id, with the size a person is about to download. */
export const FEATURED_MODELS: ModelChoice[] = KNOWN_MODELS.map((m) => ({
  id: `hub:${m.id}`,
  label: m.label,
  kind: 'hub',
  detail: `Hugging Face hub · ${formatParams(m.params)} parameters · ${formatDownloadSize(m.bf16Bytes)}`,
  source: hubSource(m.id),
}));

/** Model folders the serving origin offers under `/models/` (the dev server's local models directory). */
export async function discoverLocalModels(origin: string, fetchFn: typeof fetch = fetch): Promise<ModelChoice[]> {
  let res: Response;
  try {
    res = await fetchFn(`${origin}/models/index.json`, { cache: 'no-store' });
  } catch {
    return [];
  }
  if (!res.ok) return [];
  const body = (await res.json().catch(() => null)) as { models?: { name: string; files: { name: string; size: number }[] }[] } | null;
  // Only complete checkpoints: a tokenizer-only folder cannot be evaluated.
  const isCheckpoint = (files: { name: string }[]) =>
    files.some((f) => f.name === 'config.json') &&
    files.some((f) => f.name.endsWith('.safetensors') || f.name === 'model.safetensors.index.json');
  return (body?.models ?? [])
    .filter((m) => typeof m?.name === 'string' && Array.isArray(m.files) && isCheckpoint(m.files))
    .map((m) => {
      const bytes = m.files.reduce((s, f) => s + (Number(f.size) || 0), 0);
      return {
        id: `local:${m.name}`,
        label: m.name,
        kind: 'local' as const,
        detail: `local folder · ${m.files.length} files · ${formatBytes(bytes)}`,
        source: urlSource(`${origin}/models/${encodeURIComponent(m.name)}`, m.name),
      };
    });
}

/**
 * Toxicity classifier folders the serving origin offers under `/models/`: a config.json naming a
 * `…ForSequenceClassification` architecture with `id2label`, and a tokenizer.json.
 */
export async function discoverLocalClassifiers(origin: string, fetchFn: typeof fetch = fetch): Promise<ModelChoice[]> {
  const index = await fetchFn(`${origin}/models/index.json`, { cache: 'no-store' }).catch(() => null);
  if (!index?.ok) return [];
  const body = (await index.json().catch(() => null)) as { models?: { name: string; files: { name: string }[] }[] } | null;
  const candidates = (body?.models ?? []).filter(
    (m) =>
      typeof m?.name === 'string' &&
      Array.isArray(m.files) &&
      m.files.some((f) => f.name === 'config.json') &&
      m.files.some((f) => f.name === 'tokenizer.json'),
  );
  const found = await Promise.all(
    candidates.map(async (m) => {
      const base = `${origin}/models/${encodeURIComponent(m.name)}`;
      const res = await fetchFn(`${base}/config.json`, { cache: 'no-store' }).catch(() => null);
      const config: unknown = res?.ok ? await res.json().catch(() => null) : null;
      if (!isClassifierConfig(config)) return null;
      return {
        id: `local:${m.name}`,
        label: m.name,
        kind: 'local' as const,
        detail: 'local classifier folder',
        source: urlSource(base, m.name),
      };
    }),
  );
  return found.filter((c) => c !== null);
}

export function summarize(m: ModelManifest): CachedModelSummary {
  return {
    key: m.key,
    label: m.label,
    status: m.status,
    bytes: storedBytes(m),
    ...(m.error ? { error: m.error } : {}),
    files: Object.values(m.files).map((f) => ({ name: f.name, size: f.size, storedBytes: f.storedBytes, complete: f.complete })),
    updatedAt: m.updatedAt,
    resumeFrom: m.status === 'complete' ? null : sourceFromDescriptor(m.source),
  };
}

/**
 * What the page asks of the model cache; runs in `workers/model.worker.ts` so downloads and
 * IndexedDB writes never block the page.
 */
export class ModelLibrary {
  private readonly jobs = new Map<string, AbortController>();

  constructor(
    private readonly cache = new ShardCache(),
    private readonly runs: RunStore | null = new RunStore(),
  ) {}

  async list(): Promise<CachedModelSummary[]> {
    return (await this.cache.listModels()).map(summarize);
  }

  /** Downloads (or resumes) a model; resolves to its summary, rejects with a message meant for people. */
  async download(source: ModelSource, jobId: string, onProgress?: ProgressFn): Promise<CachedModelSummary> {
    const controller = new AbortController();
    this.jobs.set(jobId, controller);
    // The summary must not overtake the last progress events on their way to the page.
    const progress = trackedCallback(onProgress);
    try {
      const model = await downloadModel(this.cache, source, { onProgress: progress.call, signal: controller.signal });
      await progress.settled();
      return summarize(model.manifest);
    } finally {
      this.jobs.delete(jobId);
    }
  }

  cancel(jobId: string): void {
    this.jobs.get(jobId)?.abort();
  }

  /** Deletes a model with the variants compressed from it; stored runs that used them say so. */
  async remove(key: string): Promise<DeletedModels> {
    const runs = this.runs;
    return deleteModelAndVariants(this.cache, key, runs ? (base, labels) => markDeletedInRuns(runs, base, labels) : undefined);
  }

  async storage(): Promise<StorageSummary> {
    const { usage, quota } = await browserEstimate();
    const persisted = typeof navigator !== 'undefined' && navigator.storage?.persisted ? await navigator.storage.persisted() : null;
    return { usage: usage ?? null, quota: quota ?? null, persisted };
  }

  adapter(): Promise<AdapterReport> {
    return describeAdapter();
  }
}
