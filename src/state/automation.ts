import * as Comlink from 'comlink';
import type { GenerateRequest } from '../lib/app/inference-service';
import { parseSourceInput } from '../lib/app/model-library';
import type { Device } from '../lib/infer/causal-lm';
import type { EvalRequest, RunProgress } from '../lib/run/eval-run';
import { OFFLINE_DATA_BASE } from '../lib/eval/sources';
import type { DataFile, PerspectiveId } from '../lib/eval';
import { rescoreInputs } from '../lib/run/rescore-input';
import { sourceKey, urlSource, type ModelSource } from '../lib/model/sources';
import type { ProgressEvent } from '../lib/storage/shard-cache';
import { evalWorker, modelWorker } from './workers';

/** How the CLI names a model: a URL (local folders are served by the CLI) or a hub id. */
export type AutomationSource = { kind: 'url'; url: string } | { kind: 'hub'; id: string };

type ProgressMessage =
  ProgressEvent | { phase: 'status'; message: string } | { phase: 'text'; text: string } | { phase: 'eval'; progress: RunProgress };

declare global {
  interface Window {
    ctlab?: ReturnType<typeof automationApi>;
    __ctlabProgress?: (e: ProgressMessage) => void;
  }
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
  return s.kind === 'url' ? urlSource(s.url) : parseSourceInput(s.id);
}

/** The programmatic API the headless CLI drives; the same workers the page's buttons use. */
function automationApi() {
  const models = modelWorker();
  const infer = evalWorker();
  const report = (e: ProgressMessage) => window.__ctlabProgress?.(e);
  const progress = Comlink.proxy((e: ProgressEvent) => report(e));
  const status = Comlink.proxy((message: string) => report({ phase: 'status', message }));
  const text = Comlink.proxy((t: string) => report({ phase: 'text', text: t }));

  async function ready(source: AutomationSource, device: Device | 'auto') {
    const model = await models.download(toSource(source), crypto.randomUUID(), progress);
    await infer.load(model.key, device, status);
    return model;
  }

  return {
    download: ({ source }: { source: AutomationSource }) => models.download(toSource(source), crypto.randomUUID(), progress),
    models: () => models.list(),
    delete: async ({ source }: { source: AutomationSource }) => {
      const key = sourceKey(toSource(source));
      await infer.unload(key);
      await models.remove(key);
      return { deleted: key };
    },
    generate: async ({
      source,
      device = 'auto',
      request,
    }: {
      source: AutomationSource;
      device?: Device | 'auto';
      request: GenerateRequest;
    }) => {
      const model = await ready(source, device);
      return infer.generate(model.key, device, request, text);
    },
    eval: async ({
      source,
      device = 'auto',
      request,
    }: {
      source: AutomationSource;
      device?: Device | 'auto';
      request: Omit<EvalRequest, 'data'> & { dataUrl?: string };
    }) => {
      const model = await ready(source, device);
      const { dataUrl, ...rest } = request;
      const data: EvalRequest['data'] = dataUrl
        ? { kind: 'url', base: dataUrl }
        : { kind: 'offline', base: new URL(OFFLINE_DATA_BASE, location.href).href };
      return infer.evaluate(
        model.key,
        device,
        { ...rest, data },
        Comlink.proxy((p: RunProgress) => report({ phase: 'eval', progress: p })),
      );
    },
    score: async ({ perspective, inputs, data }: { perspective: PerspectiveId; inputs: WireFile[]; data: WireFile[] }) =>
      rescoreInputs(perspective, inputs.map(fromWire), data.map(fromWire)),
    benchDecode: (opts: { layers?: number; promptTokens?: number; newTokens?: number }) => infer.benchDecode(opts, status),
    ppl: async ({ source, device = 'auto', text: body }: { source: AutomationSource; device?: Device | 'auto'; text: string }) => {
      const model = await ready(source, device);
      return infer.perplexity(model.key, device, body);
    },
  };
}

export function installAutomation(): void {
  window.ctlab = automationApi();
}
