import * as Comlink from 'comlink';
import type { ModelLibrary } from '../lib/app/model-library';

let modelApi: Comlink.Remote<ModelLibrary> | null = null;

/** The one model worker of the page: downloads and IndexedDB work run there. */
export function modelWorker(): Comlink.Remote<ModelLibrary> {
  if (!modelApi) {
    const worker = new Worker(new URL('../../workers/model.worker.ts', import.meta.url), { type: 'module', name: 'ctlab-model' });
    modelApi = Comlink.wrap<ModelLibrary>(worker);
  }
  return modelApi;
}
