import { createStore, type UseStore } from 'idb-keyval';

/**
 * One IndexedDB database per store: idb-keyval creates exactly one object store per database,
 * so sharing a database name between stores would leave the second one missing.
 */
export interface CacheStores {
  manifests: UseStore;
  chunks: UseStore;
}

export function openCacheStores(prefix = 'ctlab'): CacheStores {
  return {
    manifests: createStore(`${prefix}-manifests`, 'manifests'),
    chunks: createStore(`${prefix}-chunks`, 'chunks'),
  };
}

/** Chunk keys are arrays so one model's or one file's records form a contiguous key range. */
export type ChunkKey = [model: string, file: string, index: number];

export function chunkKey(model: string, file: string, index: number): ChunkKey {
  return [model, file, index];
}

/** All chunk keys of a model, or of one file when `file` is given. */
export function chunkRange(model: string, file?: string): IDBKeyRange {
  // Arrays sort after numbers and strings, so `[]` is an upper bound for any index or file name.
  return file === undefined ? IDBKeyRange.bound([model], [model, []]) : IDBKeyRange.bound([model, file], [model, file, []]);
}

export function requestToPromise<T>(req: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}
