import type { UseStore } from 'idb-keyval';
import { ShardCache, type ShardCacheOptions } from '../lib/storage/shard-cache';
import type { CacheStores } from '../lib/storage/stores';

/**
 * The shard cache of one Node process: the same `ShardCache` the page keeps in IndexedDB, over
 * two in-memory object stores. Node has no IndexedDB, and a run of `ctlab … --runtime node`
 * needs the cache only for its own duration (the model folder is read from disk, the variant
 * is written to `--out`), so what the page would persist lives in this process and goes with it.
 * Only the operations `idb-keyval` and the cache issue are implemented: get, put, delete by
 * key or key range, count; anything else throws.
 */
export function memoryCache(opts: Pick<ShardCacheOptions, 'chunkSize'> = {}): ShardCache {
  installKeyRange();
  return new ShardCache({ ...opts, stores: memoryStores(), estimate: async () => ({}) });
}

export function memoryStores(): CacheStores {
  return { manifests: memoryStore(), chunks: memoryStore() };
}

type Key = IDBValidKey;

/** IndexedDB's key order: numbers, dates, strings, binary, arrays (element by element). */
function keyType(k: Key): number {
  if (typeof k === 'number') return 0;
  if (k instanceof Date) return 1;
  if (typeof k === 'string') return 2;
  if (Array.isArray(k)) return 4;
  return 3;
}

function compareKeys(a: Key, b: Key): number {
  const ta = keyType(a);
  const tb = keyType(b);
  if (ta !== tb) return ta - tb;
  if (Array.isArray(a) && Array.isArray(b)) {
    for (let i = 0; i < Math.min(a.length, b.length); i++) {
      const c = compareKeys(a[i], b[i]);
      if (c !== 0) return c;
    }
    return a.length - b.length;
  }
  const va = a instanceof Date ? a.getTime() : (a as number | string);
  const vb = b instanceof Date ? b.getTime() : (b as number | string);
  return va < vb ? -1 : va > vb ? 1 : 0;
}

/** The part of `IDBKeyRange` the cache uses (`bound`), for `stores.ts`'s `chunkRange` in Node. */
class KeyRange {
  constructor(
    readonly lower: Key | undefined,
    readonly upper: Key | undefined,
    readonly lowerOpen = false,
    readonly upperOpen = false,
  ) {}

  static bound(lower: Key, upper: Key, lowerOpen = false, upperOpen = false): KeyRange {
    return new KeyRange(lower, upper, lowerOpen, upperOpen);
  }

  static only(key: Key): KeyRange {
    return new KeyRange(key, key);
  }

  static lowerBound(lower: Key, open = false): KeyRange {
    return new KeyRange(lower, undefined, open, false);
  }

  static upperBound(upper: Key, open = false): KeyRange {
    return new KeyRange(undefined, upper, false, open);
  }

  includes(key: Key): boolean {
    if (this.lower !== undefined) {
      const c = compareKeys(key, this.lower);
      if (c < 0 || (c === 0 && this.lowerOpen)) return false;
    }
    if (this.upper !== undefined) {
      const c = compareKeys(key, this.upper);
      if (c > 0 || (c === 0 && this.upperOpen)) return false;
    }
    return true;
  }
}

function installKeyRange(): void {
  const g = globalThis as { IDBKeyRange?: unknown };
  if (g.IDBKeyRange === undefined) g.IDBKeyRange = KeyRange;
}

/** An `IDBRequest` that settles on a later microtask, after the caller attached its handlers, as IndexedDB's do. */
function settled<T>(result: T): IDBRequest<T> {
  const req = { result, error: null } as unknown as IDBRequest<T> & { oncomplete?: () => void };
  queueMicrotask(() => (req.oncomplete ?? req.onsuccess)?.call(req, new Event('success')));
  return req;
}

/** IndexedDB stores a structured clone; so does this (a Blob is immutable and kept as it is). */
const cloneValue = <T>(v: T): T => (v instanceof Blob ? v : structuredClone(v));

function memoryStore(): UseStore {
  const records = new Map<string, { key: Key; value: unknown }>();
  const id = (k: Key) => JSON.stringify(k);
  const matching = (q: Key | KeyRange) =>
    q instanceof KeyRange ? [...records.values()].filter((r) => q.includes(r.key)) : [records.get(id(q))].filter((r) => r !== undefined);
  const store = {
    get: (key: Key) => {
      const r = records.get(id(key));
      return settled(r === undefined ? undefined : cloneValue(r.value));
    },
    put: (value: unknown, key: Key) => {
      records.set(id(key), { key, value: cloneValue(value) });
      return settled(key);
    },
    delete: (q: Key | KeyRange) => {
      for (const r of matching(q)) records.delete(id(r.key));
      return settled(undefined);
    },
    count: (q?: Key | KeyRange) => settled(q === undefined ? records.size : matching(q).length),
    // Every operation is applied when it is issued, so a transaction is complete once its callers have their handlers set.
    get transaction() {
      return settled(undefined);
    },
  };
  const objectStore = new Proxy(store, {
    get: (target, prop) => {
      if (prop in target) return target[prop as keyof typeof target];
      throw new Error(`the in-memory cache store does not implement IDBObjectStore.${String(prop)}`);
    },
  }) as unknown as IDBObjectStore;
  return (_mode, callback) => Promise.resolve(callback(objectStore));
}
