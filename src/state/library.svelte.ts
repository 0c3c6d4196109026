import * as Comlink from 'comlink';
import type { AdapterReport } from '../lib/gpu/device';
import { wasmThreading, type WasmThreading } from '../lib/infer/wasm-threads';
import type { CachedModelSummary, ModelChoice, ModelLibrary, StorageSummary } from '../lib/app/model-library';
import { FEATURED_MODELS, discoverLocalClassifiers, discoverLocalModels } from '../lib/app/model-library';
import { parseSourceInput } from '../lib/model/source-input';
import { filesSource, type ModelSource } from '../lib/model/sources';
import type { ProgressEvent } from '../lib/storage/shard-cache';
import { modelWorker } from './workers';

export interface FileProgress {
  file: string;
  loaded: number;
  total: number | null;
  phase: ProgressEvent['phase'];
}

export interface DownloadJob {
  id: string;
  label: string;
  files: FileProgress[];
  state: 'running' | 'done' | 'failed' | 'cancelled';
  error?: string;
}

/** Page state for the model library: bridges the worker to the components, no logic of its own. */
export class LibraryState {
  choices = $state<ModelChoice[]>([...FEATURED_MODELS]);
  /** Local folders holding a toxicity classifier, for the planner's toxicity scorer. */
  classifierChoices = $state<ModelChoice[]>([]);
  cached = $state<CachedModelSummary[]>([]);
  jobs = $state<DownloadJob[]>([]);
  adapter = $state<AdapterReport | null>(null);
  /** The page's isolation and the WASM thread count the eval worker's ORT takes (a worker shares its page's isolation). */
  readonly wasm: WasmThreading = wasmThreading();
  storage = $state<StorageSummary | null>(null);
  error = $state<string | null>(null);

  private readonly api: Comlink.Remote<ModelLibrary> = modelWorker();

  async init(): Promise<void> {
    const [local, classifiers, adapter] = await Promise.all([
      discoverLocalModels(location.origin),
      discoverLocalClassifiers(location.origin),
      this.api.adapter(),
    ]);
    this.choices = [...local, ...FEATURED_MODELS];
    this.classifierChoices = classifiers;
    this.adapter = adapter;
    await this.refresh();
  }

  async refresh(): Promise<void> {
    [this.cached, this.storage] = await Promise.all([this.api.list(), this.api.storage()]);
  }

  downloadTyped(text: string): Promise<void> {
    let source: ModelSource;
    try {
      source = parseSourceInput(text);
    } catch (err) {
      this.error = (err as Error).message;
      return Promise.resolve();
    }
    return this.download(source, text.trim());
  }

  downloadFiles(files: File[]): Promise<void> {
    if (files.length === 0) return Promise.resolve();
    const source = filesSource(files);
    return this.download(source, source.kind === 'files' ? source.name : 'local files');
  }

  async download(source: ModelSource, label: string): Promise<void> {
    this.error = null;
    const id = crypto.randomUUID();
    this.jobs = [{ id, label, files: [], state: 'running' }, ...this.jobs.filter((j) => j.state === 'running')];
    const job = this.jobs[0];
    const onProgress = (e: ProgressEvent): void => {
      const i = job.files.findIndex((f) => f.file === e.file);
      const entry = { file: e.file, loaded: e.loaded, total: e.total, phase: e.phase };
      if (i < 0) job.files.push(entry);
      else job.files[i] = entry;
    };
    try {
      // Choices live in reactive state; the worker needs a plain, cloneable copy.
      await this.api.download($state.snapshot(source) as ModelSource, id, Comlink.proxy(onProgress));
      job.state = 'done';
    } catch (err) {
      job.state = /cancelled/.test((err as Error).message) ? 'cancelled' : 'failed';
      job.error = (err as Error).message;
    }
    await this.refresh();
  }

  cancel(id: string): void {
    void this.api.cancel(id);
  }

  async remove(key: string): Promise<void> {
    await this.api.remove(key);
    await this.refresh();
  }
}
