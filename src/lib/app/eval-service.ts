import { benchDecode, type DecodeBenchOptions, type DecodeBenchResult } from '../bench/decode';
import { benchEval, type EvalBenchOptions, type EvalBenchResult } from '../bench/eval';
import { loadCausalLm, type Device, type LoadedLm } from '../infer/causal-lm';
import { ortWasmThreading } from '../infer/ort-env';
import type { WasmThreading } from '../infer/wasm-threads';
import type { GraphProgressFn } from '../infer/graph-store';
import { generate, type GenerateOptions, type GenerateResult } from '../infer/generate';
import {
  klToReference,
  perplexity,
  scoreOptions,
  type KlResult,
  type OptionScores,
  type PerplexityResult,
  type WindowOptions,
} from '../infer/scoring';
import type { DataFile, PerspectiveId, PerspectiveScore, RescoreContext } from '../eval';
import type { ModelSource } from '../model/sources';
import { executeRun, newRun, resultsDoc, withToxicityClassifier } from '../run/orchestrator';
import type { CompressFn } from '../variants/run-compress';
import type { RunDoc, RunEvent, RunPlan } from '../run/types';
import { rescoreInputs } from '../run/rescore-input';
import type { ResultsDoc } from '../run/results';
import { pickResumable, samePlan } from '../run/resume';
import { RunStore } from '../run/run-store';
import { ShardCache, type ProgressEvent } from '../storage/shard-cache';

export interface SessionInfo {
  key: string;
  label: string;
  device: Device;
  adapter: string | null;
  fallbackReason?: string;
  precision: string;
  precisionReason: string;
}

export type GenerateRequest = Omit<GenerateOptions, 'onText' | 'signal'>;

/**
 * The eval worker's service (`workers/eval.worker.ts`): cached models run for the page — one
 * loaded session per model and device, reused across calls — and the work built on them: runs
 * (plan, resume, cancel, results, re-scoring) and the decode benchmark.
 */
export class EvalService {
  private readonly sessions = new Map<string, Promise<LoadedLm>>();
  private readonly jobs = new Map<string, AbortController>();

  private readonly runs = new Map<string, AbortController>();

  constructor(
    private readonly cache = new ShardCache(),
    private readonly store = new RunStore(),
    private readonly compress?: CompressFn,
  ) {}

  private session(
    key: string,
    device: Device | 'auto' = 'auto',
    onStatus?: (msg: string) => void,
    onGraphProgress?: GraphProgressFn,
  ): Promise<LoadedLm> {
    const id = `${device}\u0000${key}`;
    let lm = this.sessions.get(id);
    if (!lm) {
      lm = loadCausalLm(this.cache, key, { device, onStatus, onGraphProgress });
      this.sessions.set(id, lm);
      lm.catch(() => this.sessions.delete(id));
    }
    return lm;
  }

  async load(
    key: string,
    device: Device | 'auto' = 'auto',
    onStatus?: (msg: string) => void,
    onGraphProgress?: GraphProgressFn,
  ): Promise<SessionInfo> {
    const lm = await this.session(key, device, onStatus, onGraphProgress);
    return {
      key,
      label: lm.label,
      device: lm.device,
      adapter: lm.adapter,
      ...(lm.fallbackReason ? { fallbackReason: lm.fallbackReason } : {}),
      precision: lm.precision,
      precisionReason: lm.precisionReason,
    };
  }

  /** Generates; `jobId` lets `cancel` stop it between tokens (an AbortSignal cannot cross to a worker). */
  async generate(
    key: string,
    device: Device | 'auto',
    request: GenerateRequest,
    onText?: (delta: string) => void,
    jobId?: string,
  ): Promise<GenerateResult & SessionInfo> {
    const controller = new AbortController();
    if (jobId) this.jobs.set(jobId, controller);
    try {
      const lm = await this.session(key, device);
      const result = await generate(lm, { ...request, onText, signal: controller.signal });
      return { ...result, ...(await this.load(key, device)) };
    } finally {
      if (jobId) this.jobs.delete(jobId);
    }
  }

  /**
   * Stores a new run and returns its id; `runToEnd` executes it. With an `id` that is already
   * stored for the same plan (a shard restarted after a crash), the stored run is kept, so
   * `runToEnd` resumes it instead of starting over.
   */
  async createRun(plan: RunPlan, id?: string): Promise<string> {
    if (id) {
      const stored = await this.store.getRun(id);
      // The batch size changes speed only: a restart may pick another one and still resume.
      if (stored && !samePlan(stored.plan, plan))
        throw new Error(`run ${id} is stored with a different plan; delete it or use another browser profile`);
      if (stored) {
        if (stored.plan.batchSize !== plan.batchSize) {
          stored.plan = plan;
          await this.store.saveRun(stored);
        }
        return id;
      }
    }
    const doc = newRun(plan, id);
    await this.store.saveRun(doc);
    return doc.id;
  }

  /**
   * The stored run of this plan that a restarted command should continue (see `pickResumable`)
   * with its kept records, or undefined when every such run finished or none was stored.
   */
  async resumableRun(plan: RunPlan): Promise<{ id: string; records: number } | undefined> {
    const runs = (await this.store.listRuns()).filter((doc) => doc.status !== 'done' && samePlan(doc.plan, plan));
    const stored = await Promise.all(runs.map(async (doc) => ({ doc, records: await this.store.countRecords(doc.id) })));
    const pick = pickResumable(stored, plan);
    return pick && { id: pick.doc.id, records: pick.records };
  }

  /** Runs or resumes a stored run; every finished record is already stored when this returns or throws. */
  async runToEnd(runId: string, onEvent?: (e: RunEvent) => void): Promise<ResultsDoc> {
    // One run at a time: two would fight over memory, the GPU and ORT's shared file system.
    const other = [...this.runs.keys()].find((id) => id !== runId);
    if (other) throw new Error(`Another run (${other}) is in progress in this page; cancel it or wait for it to finish`);
    const controller = new AbortController();
    this.runs.get(runId)?.abort();
    this.runs.set(runId, controller);
    // Sessions of earlier calls would hold memory the run's variants need.
    await this.unload();
    try {
      return await executeRun(
        runId,
        { cache: this.cache, store: this.store, ...(this.compress ? { compress: this.compress } : {}) },
        onEvent,
        controller.signal,
      );
    } finally {
      if (this.runs.get(runId) === controller) this.runs.delete(runId);
    }
  }

  /**
   * Re-scores outputs produced elsewhere (`ctlab score`); with `toxicityModel`, toxicity is
   * scored by that classifier, brought into this worker's cache first.
   */
  rescore(
    perspective: PerspectiveId,
    inputs: DataFile[],
    data: DataFile[],
    ctx: Omit<RescoreContext, 'toxicityScorer'> = {},
    toxicityModel?: ModelSource,
    onProgress?: (e: ProgressEvent) => void,
  ): Promise<PerspectiveScore[]> {
    return withToxicityClassifier(
      this.cache,
      toxicityModel,
      (scorer) => rescoreInputs(perspective, inputs, data, { ...ctx, ...(scorer ? { toxicityScorer: scorer } : {}) }),
      onProgress,
    );
  }

  cancelRun(runId: string): void {
    this.runs.get(runId)?.abort();
  }

  listRuns(): Promise<RunDoc[]> {
    return this.store.listRuns();
  }

  async runResults(runId: string): Promise<ResultsDoc> {
    const doc = await this.store.getRun(runId);
    if (!doc) throw new Error(`no run ${runId}`);
    return resultsDoc(doc, await this.store.resultsOf(runId));
  }

  countRunRecords(runId: string): Promise<number> {
    return this.store.countRecords(runId);
  }

  deleteRun(runId: string): Promise<void> {
    this.runs.get(runId)?.abort();
    return this.store.deleteRun(runId);
  }

  benchDecode(opts: Omit<DecodeBenchOptions, 'onStatus'>, onStatus?: (msg: string) => void): Promise<DecodeBenchResult> {
    return benchDecode({ ...opts, onStatus });
  }

  /** Isolation and the thread count ORT's WASM backend runs with in this worker. */
  wasmThreading(): WasmThreading {
    return ortWasmThreading();
  }

  /** Evaluation items/s one prompt at a time against batches; sessions of earlier calls are released first. */
  async benchEval(opts: Omit<EvalBenchOptions, 'onStatus'>, onStatus?: (msg: string) => void): Promise<EvalBenchResult> {
    await this.unload();
    return benchEval(this.cache, { ...opts, onStatus });
  }

  cancel(jobId: string): void {
    this.jobs.get(jobId)?.abort();
  }

  /** Perplexity of a text with the session it ran on; the last position's logits as a plain array (they cross to the CLI as JSON). */
  async perplexity(
    key: string,
    device: Device | 'auto',
    text: string,
    window?: WindowOptions,
  ): Promise<Pick<PerplexityResult, 'meanNll' | 'ppl' | 'tokens'> & { lastLogits: number[] } & SessionInfo> {
    const lm = await this.session(key, device);
    const r = await perplexity(lm, text, window);
    return { meanNll: r.meanNll, ppl: r.ppl, tokens: r.tokens, lastLogits: Array.from(r.lastLogits), ...(await this.load(key, device)) };
  }

  async scoreOptions(key: string, device: Device | 'auto', prompt: string, options: string[]): Promise<OptionScores> {
    return scoreOptions(await this.session(key, device), prompt, options);
  }

  async kl(referenceKey: string, variantKey: string, device: Device | 'auto', text: string): Promise<KlResult> {
    return klToReference(await this.session(referenceKey, device), await this.session(variantKey, device), text);
  }

  async unload(key?: string): Promise<void> {
    for (const [id, lm] of this.sessions) {
      if (key && !id.endsWith(`\u0000${key}`)) continue;
      this.sessions.delete(id);
      await (await lm.catch(() => null))?.model.dispose();
    }
  }
}
