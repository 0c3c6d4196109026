import * as Comlink from 'comlink';
import { parseSourceInput } from '../lib/app/model-library';
import { sourceKey, urlSource, type ModelSource } from '../lib/model/sources';
import type { ProgressEvent } from '../lib/storage/shard-cache';
import { modelWorker } from './workers';

/** How the CLI names a model: a URL (local folders are served by the CLI) or a hub id. */
export type AutomationSource = { kind: 'url'; url: string } | { kind: 'hub'; id: string };

declare global {
  interface Window {
    ctlab?: ReturnType<typeof automationApi>;
    __ctlabProgress?: (e: ProgressEvent) => void;
  }
}

function toSource(s: AutomationSource): ModelSource {
  return s.kind === 'url' ? urlSource(s.url) : parseSourceInput(s.id);
}

/** The programmatic API the headless CLI drives; the same workers the page's buttons use. */
function automationApi() {
  const api = modelWorker();
  const report = Comlink.proxy((e: ProgressEvent) => window.__ctlabProgress?.(e));
  return {
    download: ({ source }: { source: AutomationSource }) => api.download(toSource(source), crypto.randomUUID(), report),
    models: () => api.list(),
    delete: async ({ source }: { source: AutomationSource }) => {
      const key = sourceKey(toSource(source));
      await api.remove(key);
      return { deleted: key };
    },
  };
}

export function installAutomation(): void {
  window.ctlab = automationApi();
}
