import * as Comlink from 'comlink';
import type { GenerateRequest } from '../lib/app/eval-service';
import { parseSourceInput } from '../lib/model/source-input';
import type { Device } from '../lib/infer/causal-lm';
import { checkBatchSize } from '../lib/infer/batch-size';
import type { RunEvent, RunPlan } from '../lib/run/types';
import type { CalibrationPlan } from '../lib/variants/calibration';
import { parseVariants } from '../lib/variants/spec';
import { CALIBRATION_DEFAULTS } from '../lib/variants/calibration';
import { cellsBySeed, evalUnits, parseShard, planUnits, shardRunId, shardUnits, type PlanInputs, type UnitPlan } from '../lib/run/units';
import { assembleResults, mergeShards } from '../lib/run/merge';
import { RunProgressModel } from '../lib/run/progress';
import type { ResultsDoc } from '../lib/run/results';
import { htmlReport } from '../lib/report/html';
import { OFFLINE_DATA_BASE } from '../lib/eval/sources';
import {
  PERSPECTIVE_IDS,
  getPerspective,
  getPreset,
  type DataFile,
  type PerspectiveId,
  type PerspectiveScore,
  type ScoringMode,
} from '../lib/eval';
import { dataFolderOf } from '../lib/run/rescore-input';
import { sourceKey, urlSource, type ModelSource } from '../lib/model/sources';
import type { ProgressEvent } from '../lib/storage/shard-cache';
import type { CompressBenchOptions } from '../lib/bench/compress';
import { scaleParams, statusClock } from '../lib/bench/scale';
import type { HubConfig } from '../lib/model/known-models';
import type { CompressCommand, CompressProgress, CompressRequest } from '../lib/variants/compress-model';
import { settingsFromText } from '../lib/compress/reference/settings';
import { downloadBlob } from '../lib/util/download';
import { compressWorker, evalWorker, modelWorker, withBenchWorker } from './workers';
import { compareThreads, type ThreadsRun, type ThreadsSetting } from '../lib/bench/decode';
import { assertAllowedByPagePolicy } from '../lib/model/page-policy';

/** How the CLI names a model: a URL (local folders are served by the CLI) or a hub id. */
export type AutomationSource = { kind: 'url'; url: string } | { kind: 'hub'; id: string };

type ProgressMessage =
  | ProgressEvent
  | { phase: 'status'; message: string }
  | { phase: 'text'; text: string }
  | { phase: 'run'; event: RunEvent; overall: { fraction: number; etaSeconds: number | null } }
  | { phase: 'compress'; progress: CompressProgress }
  | { phase: 'graph'; done: number; total: number; unit: 'bytes' };

/**
 * The page API (`window.ctlab`) the headless CLI drives (bin/commands/ call it through
 * page.evaluate, so arguments and results are plain JSON). Results are domain results: the CLI
 * decides how they print.
 */
export type CtlabApi = ReturnType<typeof automationApi>;

declare global {
  interface Window {
    ctlab?: CtlabApi;
    __ctlabProgress?: (e: ProgressMessage) => void;
  }
}

/** What `ctlab eval` asks for. */
export interface EvalRequest {
  perspectives: PerspectiveId[] | 'all';
  preset: string;
  seed: number;
  /** Runs the plan once per seed (`--seeds 0,1,2`); absent: `[seed]`. */
  seeds?: number[];
  mode: ScoringMode | 'both';
  /** Comma-separated variant ids (`dense,rtn4,gptq3,…`); dense is always included. */
  variants?: string;
  dataUrl?: string;
  /** Calibration of the compressed variants (`--calib`, `--samples`, `--seq-len`); what is absent comes from `CALIBRATION_DEFAULTS.cliEval`. Part of the plan id. */
  calibration?: Partial<CalibrationPlan>;
  /** The toxicity classifier (`--toxicity-model`); absent: the lexicon proxy. */
  toxicityModel?: AutomationSource;
  /** How the user named the model, data and classifier: the plan id hashes these, not the served URLs (their port varies per shard). */
  names?: { model: string; data: string; toxicityModel?: string };
  /** Only this share of the plan's units (`--shard K/N`); its runs keep stable ids and resume after a restart. */
  shard?: string;
  /** Exported variant folders (`--variant-dir`), by variant id: loaded instead of compressed. */
  variantSources?: Record<string, AutomationSource>;
  /** Prompts per forward pass (`--batch-size`); absent: chosen from the model and device. Not part of the plan id. */
  batchSize?: number;
  /** Starts a new run even where an unfinished run of the same plan is stored (`--fresh`); absent: that run goes on. */
  fresh?: boolean;
}

/** Files from the CLI: text as is, binary (`.npy`) as base64, since page.evaluate carries JSON. */
export interface WireFile {
  path: string;
  text?: string;
  base64?: string;
}

function fromWire(f: WireFile): DataFile {
  if (f.base64 === undefined) return { path: f.path, text: f.text ?? '' };
  return { path: f.path, text: Uint8Array.from(atob(f.base64), (c) => c.charCodeAt(0)) };
}

function toSource(s: AutomationSource): ModelSource {
  if (s.kind === 'hub') return parseSourceInput(s.id);
  const src = urlSource(s.url);
  if (src.kind === 'url') assertAllowedByPagePolicy(src.baseUrl, location.origin);
  return src;
}

function evalCalibration(request: EvalRequest): CalibrationPlan {
  return { ...CALIBRATION_DEFAULTS.cliEval, ...request.calibration };
}

/** The work units of an eval request; perspectives are checked here, before anything runs. */
function unitPlanOf(request: EvalRequest): UnitPlan {
  const perspectives = request.perspectives === 'all' ? [...PERSPECTIVE_IDS] : request.perspectives;
  for (const p of perspectives) getPerspective(p);
  getPreset(request.preset);
  const calibration = evalCalibration(request);
  const inputs: PlanInputs = {
    model: request.names?.model ?? '',
    variants: parseVariants(request.variants ?? 'dense'),
    perspectives,
    preset: request.preset,
    mode: request.mode,
    seeds: request.seeds ?? [request.seed],
    data: request.names?.data ?? request.dataUrl ?? 'offline',
    calibration: { ...calibration },
    ...(request.names?.toxicityModel ? { toxicityModel: request.names.toxicityModel } : {}),
  };
  return planUnits(inputs);
}

/** The programmatic API the headless CLI drives; the same workers the page's buttons use. */
function automationApi() {
  const models = modelWorker();
  const infer = evalWorker();
  const report = (e: ProgressMessage) => window.__ctlabProgress?.(e);
  const progress = Comlink.proxy((e: ProgressEvent) => report(e));
  const status = Comlink.proxy((message: string) => report({ phase: 'status', message }));
  const text = Comlink.proxy((t: string) => report({ phase: 'text', text: t }));
  const graph = Comlink.proxy((done: number, total: number) => report({ phase: 'graph', done, total, unit: 'bytes' }));

  async function ready(source: AutomationSource, device: Device | 'auto') {
    const model = await models.download(toSource(source), crypto.randomUUID(), progress);
    await infer.load(model.key, device, status, graph);
    return model;
  }

  /** The cache key of the one cached model listed under `name` (its label, as `ctlab models` shows it). */
  async function keyNamed(name: string): Promise<string> {
    const named = (await models.list()).filter((m) => m.label === name);
    if (named.length === 1) return named[0].key;
    if (named.length === 0) throw new Error(`no cached model is called ${name} (ctlab models lists them)`);
    throw new Error(
      `${named.length} cached models are called ${name} (${named.map((m) => m.key).join(', ')}): name the one to delete by its folder, URL or Hugging Face id`,
    );
  }

  /**
   * The model (downloaded or cached) compressed into a variant in the cache; with `reuse`, a
   * complete variant of the same settings and calibration is taken as stored.
   */
  async function compressVariant(source: AutomationSource, { settings, ...rest }: CompressCommand, reuse: boolean) {
    // Before the download: a mistyped setting should not wait for the model.
    const request: CompressRequest = { settings: settingsFromText(settings), ...rest };
    const model = await models.download(toSource(source), crypto.randomUUID(), progress);
    const made = await compressWorker().compress(
      model.key,
      request,
      Comlink.proxy((p: CompressProgress) => report({ phase: 'compress', progress: p })),
      undefined,
      reuse,
    );
    // A session of an earlier variant with the same key must not be reused.
    await infer.unload(made.key);
    return made;
  }

  return {
    download: ({ source }: { source: AutomationSource }) => models.download(toSource(source), crypto.randomUUID(), progress),
    models: () => models.list(),
    delete: async (target: { source: AutomationSource } | { name: string }) => {
      const key = 'name' in target ? await keyNamed(target.name) : sourceKey(toSource(target.source));
      await infer.unload(key);
      const { deleted } = await models.remove(key);
      // Its variants were deleted with it; none may stay loaded either.
      for (const k of deleted) if (k !== key) await infer.unload(k);
      return { deleted: key, variants: deleted.filter((k) => k !== key) };
    },
    /**
     * Generates with the model, or with its variant of `variant`'s settings: that one is taken
     * from the cache when the same settings and calibration were compressed before, else made
     * first. The dense model is never loaded for a variant (a 4-bit variant may fit where it does not).
     */
    generate: async ({
      source,
      device = 'auto',
      request,
      variant,
    }: {
      source: AutomationSource;
      device?: Device | 'auto';
      request: GenerateRequest;
      variant?: CompressCommand;
    }) => {
      if (!variant) return infer.generate((await ready(source, device)).key, device, request, text);
      const made = await compressVariant(source, variant, true);
      return infer.generate(made.key, device, request, text);
    },
    /** The plan's work units and their ids (`ctlab plan`), with a shard's share when asked. */
    plan: ({ request }: { request: EvalRequest }) => {
      const units = unitPlanOf(request);
      const shard = request.shard === undefined ? undefined : parseShard(request.shard);
      return shard ? { ...units, shard, mine: shardUnits(units, shard.index, shard.count).map((u) => u.id) } : units;
    },
    /**
     * Creates a run per seed (dense plus the requested variants; with a shard, only its units) and
     * runs each to the end, like the page's Run button; returns one file for all of them.
     */
    eval: async ({ source, device = 'auto', request }: { source: AutomationSource; device?: Device | 'auto'; request: EvalRequest }) => {
      const units = unitPlanOf(request);
      const shard = request.shard === undefined ? undefined : parseShard(request.shard);
      const mine = shard ? shardUnits(units, shard.index, shard.count) : units.units;
      const perSeed = cellsBySeed(units, mine);
      const strange = Object.keys(request.variantSources ?? {}).filter(
        (id) => !units.inputs.variants.some((v) => v.id === id && v.method !== 'dense'),
      );
      if (strange.length) throw new Error(`--variant-dir names ${strange.join(', ')}, not a compressed variant of this plan`);
      if (!perSeed.length) throw new Error(`shard ${request.shard} has no units: the plan has ${evalUnits(units).length}`);
      const parts = [];
      const overall = new RunProgressModel();
      for (const { seed, cells } of perSeed) {
        const plan: RunPlan = {
          model: toSource(source),
          variants: units.inputs.variants,
          perspectives: units.inputs.perspectives,
          preset: request.preset,
          mode: request.mode,
          seed,
          data: request.dataUrl
            ? { kind: 'url', base: request.dataUrl }
            : { kind: 'offline', base: new URL(OFFLINE_DATA_BASE, location.href).href },
          device,
          calibration: evalCalibration(request),
          ...(request.toxicityModel ? { toxicityModel: toSource(request.toxicityModel) } : {}),
          ...(shard ? { only: cells } : {}),
          ...(request.batchSize !== undefined ? { batchSize: checkBatchSize(request.batchSize) } : {}),
          ...(request.variantSources
            ? { variantSources: Object.fromEntries(Object.entries(request.variantSources).map(([id, s]) => [id, toSource(s)])) }
            : {}),
        };
        // A shard's run has a stable id; a whole plan's run is found by its plan, so the same
        // command after a crash or a kill goes on where it stopped.
        const shardRun = shard && shardRunId(units, seed, shard);
        if (shardRun && request.fresh) await infer.deleteRun(shardRun);
        const resumed = shard || request.fresh ? undefined : await infer.resumableRun(plan);
        if (resumed)
          report({
            phase: 'status',
            message: `going on with the unfinished run ${resumed.id} of this plan (${resumed.records} records kept; --fresh starts over)`,
          });
        const runId = await infer.createRun(plan, shardRun || resumed?.id);
        const doc = await infer.runToEnd(
          runId,
          Comlink.proxy((e: RunEvent) => {
            overall.apply(e, performance.now());
            const { fraction, etaSeconds } = overall.view();
            report({ phase: 'run', event: e, overall: { fraction, etaSeconds } });
          }),
        );
        parts.push({ seed, doc });
      }
      return assembleResults(
        parts,
        {
          id: units.id,
          seeds: units.inputs.seeds,
          evalUnits: evalUnits(units).map((u) => u.id),
          ...(shard ? { shard } : {}),
        },
        mine.map((u) => u.id),
      );
    },
    /** Shards' results files as the single run's file (`ctlab merge`); throws naming what does not fit. */
    merge: ({ files }: { files: { name: string; doc: ResultsDoc }[] }) => mergeShards(files),
    runs: () => infer.listRuns(),
    runRecordCount: ({ runId }: { runId: string }) => infer.countRunRecords(runId),
    /** The self-contained HTML report of a results file, as `ctlab eval --report` writes it. */
    report: ({ doc }: { doc: ResultsDoc }) => htmlReport(doc),
    score: async ({
      perspective,
      inputs,
      data,
      setting,
      toxicityModel,
    }: {
      perspective: PerspectiveId;
      inputs: WireFile[];
      data: WireFile[];
      setting?: string;
      /** Scores toxicity with this classifier (`--toxicity-model`), loaded in the eval worker. */
      toxicityModel?: AutomationSource;
      // An entry of a results file keeps the variant it was measured on.
    }): Promise<(PerspectiveScore & { variant?: string })[]> =>
      infer.rescore(
        perspective,
        inputs.map(fromWire),
        data.map(fromWire),
        setting ? { setting } : {},
        toxicityModel ? toSource(toxicityModel) : undefined,
        progress,
      ),
    /** DecodingTrust's data folder of a perspective, so the CLI sends only that part of --data-dir. */
    dataFolder: ({ perspective }: { perspective: PerspectiveId }) => dataFolderOf(perspective),
    benchDecode: (opts: { layers?: number; promptTokens?: number; newTokens?: number; prefillLengths?: number[] }) =>
      infer.benchDecode(opts, status),
    /** The WASM rows once per thread setting, each in a fresh worker (ORT's thread count is set once per worker). */
    benchDecodeThreads: async ({
      threads,
      ...opts
    }: {
      threads: ThreadsSetting[];
      layers?: number;
      promptTokens?: number;
      newTokens?: number;
      prefillLengths?: number[];
    }) => {
      const runs: ThreadsRun[] = [];
      for (const t of threads) {
        report({ phase: 'status', message: `WASM on ${t} thread${t === 1 ? '' : 's'}` });
        runs.push(await withBenchWorker((bench) => bench.benchDecodeThreads(t, opts)));
      }
      return compareThreads(runs);
    },
    /** Whether the page is cross-origin isolated and the thread count ORT's WASM backend runs with in the eval worker. */
    wasmThreading: () => infer.wasmThreading(),
    /**
     * `ctlab bench eval`: items/s one at a time and batched. The small model defaults to the
     * local models folder's stories260k and the SmolLM2 tokenizer to the one beside it.
     */
    benchEval: ({
      source,
      device = 'auto',
      ...opts
    }: {
      source?: AutomationSource;
      device?: Device | 'auto';
      layers?: number;
      preset?: string;
      items?: number;
      maxNewTokens?: number;
      batchSize?: number;
      smollm?: boolean;
    }) => {
      const local = (path: string) => new URL(path, location.href).href;
      const { smollm = true, ...rest } = opts;
      return infer.benchEval(
        {
          ...rest,
          device,
          model: source ? toSource(source) : urlSource(local('/models/stories260k')),
          dataUrl: local(OFFLINE_DATA_BASE),
          ...(smollm ? { smollmTokenizerUrl: local('/models/smollm2-135m-instruct-tokenizer') } : {}),
        },
        status,
      );
    },
    ppl: async ({ source, device = 'auto', text: body }: { source: AutomationSource; device?: Device | 'auto'; text: string }) => {
      const model = await ready(source, device);
      return infer.perplexity(model.key, device, body);
    },
    /** Compresses a model (downloaded or cached) into a variant in the cache; returns its report. */
    compress: ({ source, request }: { source: AutomationSource; request: CompressCommand }) => compressVariant(source, request, false),
    /** A stored variant's files as a Hugging Face folder (with onnx/): paths and sizes. */
    variantFiles: ({ key }: { key: string }) => compressWorker().exportFiles(key, graph),
    /**
     * One exported file of a stored variant handed to the browser's download path (the CLI saves
     * it into `--out`): Chromium writes the Blob to disk itself, far faster than uploading it.
     * Resolves with its size once the download is started. `stored`: the file as the cache holds
     * it, for a caller that re-encodes it itself (see `exportBlob`).
     */
    variantDownload: async ({ key, path, stored = false }: { key: string; path: string; stored?: boolean }) => {
      const blob = await compressWorker().exportBlob(key, path, stored);
      downloadBlob(path.replace(/\//g, '__'), blob);
      return blob.size;
    },
    /** Mean KL(dense ‖ variant) over a text's next-token distributions, with both perplexities. */
    kl: async ({
      source,
      variant,
      device = 'auto',
      text: body,
    }: {
      source: AutomationSource;
      variant: AutomationSource;
      device?: Device | 'auto';
      text: string;
    }) => {
      const dense = await ready(source, device);
      const compressed = await ready(variant, device);
      const r = await infer.kl(dense.key, compressed.key, device, body);
      return { ...r, dense: dense.key, variant: compressed.key };
    },
    benchCompress: (opts: Omit<CompressBenchOptions, 'onStatus'>) => compressWorker().benchCompress(opts, status),
    /**
     * What `generate` does before it generates (download or find cached, build the graph if
     * missing, start a session), with the graph build and the session start timed apart:
     * `ctlab bench scale` keeps loading out of the window it measures generation in.
     */
    load: async ({ source, device = 'auto' }: { source: AutomationSource; device?: Device | 'auto' }) => {
      const model = await models.download(toSource(source), crypto.randomUUID(), progress);
      const clock = statusClock();
      const onStatus = Comlink.proxy((message: string) => {
        clock.mark(message);
        report({ phase: 'status', message });
      });
      const info = await infer.load(model.key, device, onStatus, graph);
      return { ...info, ...clock.phases() };
    },
    /** Parameters implied by a `config.json`; `ctlab bench scale` divides memory by their fp32 size. */
    params: ({ config }: { config: HubConfig }) => scaleParams(config),
  };
}

export function installAutomation(): void {
  window.ctlab = automationApi();
}
