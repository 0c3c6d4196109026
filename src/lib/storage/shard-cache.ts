import { del, get, set, values } from 'idb-keyval';
import type { ByteSource } from '../model/byte-source';
import {
  AbortedError,
  CacheError,
  DownloadInterruptedError,
  HttpError,
  IntegrityError,
  QuotaError,
  formatBytes,
  isQuotaExceeded,
} from './errors';
import { emptyManifest, type CachedFile, type ModelManifest } from './manifest';
import { browserEstimate, ensureRoom, type EstimateFn } from './quota';
import { chunkKey, chunkRange, openCacheStores, requestToPromise, type CacheStores } from './stores';

export type ProgressPhase = 'checking' | 'downloading' | 'stored' | 'cached' | 'absent' | 'failed';

export interface ProgressEvent {
  model: string;
  file: string;
  loaded: number;
  total: number | null;
  phase: ProgressPhase;
}
export type ProgressFn = (e: ProgressEvent) => void;

export interface ShardCacheOptions {
  stores?: CacheStores;
  /** Bytes per IndexedDB record; large enough to keep record counts low, small enough to never need one huge allocation. */
  chunkSize?: number;
  estimate?: EstimateFn;
  fetch?: typeof fetch;
  /** Automatic resumes after a dropped connection, per file. */
  retries?: number;
  retryDelayMs?: number;
}

export interface StoreOptions {
  onProgress?: ProgressFn;
  signal?: AbortSignal;
  /** A 404 records the file as absent instead of failing. */
  optional?: boolean;
}

export const DEFAULT_CHUNK_SIZE = 32 * 1024 * 1024;

/**
 * Model files in IndexedDB: chunked records keyed `[model, file, index]` plus one manifest per
 * model. Downloads resume with HTTP Range from the last committed chunk, so nothing finished
 * is fetched twice and nothing half-written is ever marked complete.
 */
export class ShardCache {
  readonly stores: CacheStores;
  readonly chunkSize: number;
  private readonly estimate: EstimateFn;
  private readonly fetchFn: typeof fetch;
  private readonly retries: number;
  private readonly retryDelayMs: number;
  private lastChunk: { key: string; bytes: Uint8Array } | null = null;

  constructor(opts: ShardCacheOptions = {}) {
    this.stores = opts.stores ?? openCacheStores();
    this.chunkSize = opts.chunkSize ?? DEFAULT_CHUNK_SIZE;
    this.estimate = opts.estimate ?? browserEstimate;
    this.fetchFn = opts.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.retries = opts.retries ?? 3;
    this.retryDelayMs = opts.retryDelayMs ?? 500;
  }

  // ── manifests ──────────────────────────────────────────────────────────────

  async manifest(model: string): Promise<ModelManifest | undefined> {
    return get<ModelManifest>(model, this.stores.manifests);
  }

  async saveManifest(m: ModelManifest): Promise<void> {
    m.updatedAt = Date.now();
    try {
      await set(m.key, m, this.stores.manifests);
    } catch (err) {
      throw this.translateWriteError(err, `the manifest of ${m.label}`);
    }
  }

  /** The model's manifest, created when the model is new. */
  async openModel(key: string, label: string, source: ModelManifest['source']): Promise<ModelManifest> {
    const existing = await this.manifest(key);
    if (existing) return existing;
    const m = emptyManifest(key, label, source);
    await this.saveManifest(m);
    return m;
  }

  async listModels(): Promise<ModelManifest[]> {
    const all = await values<ModelManifest>(this.stores.manifests);
    return all.sort((a, b) => b.updatedAt - a.updatedAt);
  }

  async setStatus(model: string, status: ModelManifest['status'], error?: string): Promise<ModelManifest> {
    const m = await this.requireManifest(model);
    m.status = status;
    if (error === undefined) delete m.error;
    else m.error = error;
    await this.saveManifest(m);
    return m;
  }

  async deleteModel(model: string): Promise<void> {
    await this.stores.chunks('readwrite', (s) => requestToPromise(s.delete(chunkRange(model))));
    await del(model, this.stores.manifests);
    this.lastChunk = null;
  }

  /** Records held for a model (or one of its files); how tests and the UI see what delete freed. */
  async countChunks(model: string, file?: string): Promise<number> {
    return this.stores.chunks('readonly', (s) => requestToPromise(s.count(chunkRange(model, file))));
  }

  // ── writing ────────────────────────────────────────────────────────────────

  /** Downloads `url` into the cache as `file` of `model`, resuming what an earlier attempt stored. */
  async storeFromUrl(model: string, file: string, url: string, opts: StoreOptions = {}): Promise<CachedFile | null> {
    const m = await this.requireManifest(model);
    const done = m.files[file];
    if (done?.complete) {
      opts.onProgress?.({ model, file, loaded: done.storedBytes, total: done.size, phase: 'cached' });
      return done;
    }
    if (m.absent.includes(file) && opts.optional) {
      opts.onProgress?.({ model, file, loaded: 0, total: 0, phase: 'absent' });
      return null;
    }
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.downloadOnce(m, file, url, opts);
      } catch (err) {
        const retryable = err instanceof DownloadInterruptedError || (err instanceof HttpError && err.status >= 500);
        if (!retryable || attempt >= this.retries || opts.signal?.aborted) {
          const entry = m.files[file];
          opts.onProgress?.({ model, file, loaded: entry?.storedBytes ?? 0, total: entry?.size ?? null, phase: 'failed' });
          throw err;
        }
        await sleep(this.retryDelayMs * 2 ** attempt, opts.signal);
      }
    }
  }

  private async downloadOnce(m: ModelManifest, file: string, url: string, opts: StoreOptions): Promise<CachedFile | null> {
    const model = m.key;
    let entry = m.files[file];
    const headers: Record<string, string> = {};
    if (entry && entry.storedBytes > 0) {
      headers.Range = `bytes=${entry.storedBytes}-`;
      // If the file changed on the host since the partial download, get it whole instead.
      if (entry.etag && !entry.etag.startsWith('W/')) headers['If-Range'] = entry.etag;
    }
    opts.onProgress?.({ model, file, loaded: entry?.storedBytes ?? 0, total: entry?.size ?? null, phase: 'checking' });
    let res: Response;
    try {
      res = await this.fetchFn(url, { headers, signal: opts.signal, cache: 'no-store' });
    } catch (err) {
      if (opts.signal?.aborted) throw new AbortedError(`Downloading ${file}`);
      throw new DownloadInterruptedError(`Could not reach ${url} for ${file}: ${(err as Error).message}`);
    }
    if (res.status === 404 && opts.optional) {
      if (!m.absent.includes(file)) m.absent.push(file);
      await this.saveManifest(m);
      opts.onProgress?.({ model, file, loaded: 0, total: 0, phase: 'absent' });
      return null;
    }
    if (res.status === 416 && entry && entry.size !== null && entry.storedBytes === entry.size) {
      return this.finishFile(m, entry, opts);
    }
    if (res.status !== 200 && res.status !== 206) throw new HttpError(file, url, res.status);

    let start = 0;
    let staleChunks = false;
    if (res.status === 206 && entry) {
      const range = parseContentRange(res.headers.get('content-range'));
      if (!range || range.start !== entry.storedBytes) {
        throw new IntegrityError(`${url} answered the resume of ${file} with the wrong byte range (${res.headers.get('content-range')})`);
      }
      start = range.start;
      entry.size = range.total ?? entry.size;
    } else {
      // A full body: anything stored before is stale (or there was nothing).
      staleChunks = (entry?.storedBytes ?? 0) > 0;
      const length = res.headers.get('content-length');
      entry = {
        name: file,
        size: length !== null && res.headers.get('content-encoding') === null ? Number(length) : null,
        storedBytes: 0,
        chunkSize: this.chunkSize,
        chunkCount: 0,
        complete: false,
        url,
      };
    }
    entry.etag = res.headers.get('etag') ?? entry.etag;
    entry.lastModified = res.headers.get('last-modified') ?? entry.lastModified;
    const linked = res.headers.get('x-linked-etag')?.replace(/"/g, '');
    if (linked && /^[0-9a-f]{64}$/.test(linked)) entry.sha256 = linked;
    m.files[file] = entry;
    m.absent = m.absent.filter((f) => f !== file);
    if (entry.size !== null) await ensureRoom(entry.size - start, `${file} of ${m.label}`, this.estimate);
    if (staleChunks) await this.dropChunks(model, file);
    await this.saveManifest(m);

    if (!res.body) throw new DownloadInterruptedError(`${url} sent no body for ${file}`);
    await this.writeStream(m, entry, res.body.getReader(), opts, url);
    return this.finishFile(m, entry, opts);
  }

  /** Stores a local `File` or `Blob` (a picked folder, dropped files) through the same chunking. */
  async storeFromBlob(model: string, file: string, blob: Blob, opts: StoreOptions = {}): Promise<CachedFile> {
    const m = await this.requireManifest(model);
    const done = m.files[file];
    if (done?.complete && done.size === blob.size) {
      opts.onProgress?.({ model, file, loaded: done.storedBytes, total: done.size, phase: 'cached' });
      return done;
    }
    if (done) await this.dropChunks(model, file);
    const entry: CachedFile = { name: file, size: blob.size, storedBytes: 0, chunkSize: this.chunkSize, chunkCount: 0, complete: false };
    m.files[file] = entry;
    m.absent = m.absent.filter((f) => f !== file);
    await ensureRoom(blob.size, `${file} of ${m.label}`, this.estimate);
    await this.saveManifest(m);
    await this.writeStream(m, entry, blob.stream().getReader(), opts, file);
    return this.finishFile(m, entry, opts);
  }

  /**
   * Writes a file produced in the page piece by piece, without ever holding it whole: `body`
   * calls `write` with consecutive pieces, which are copied into a record buffer and committed
   * one 32 MB record at a time. The quota is checked for `totalBytes` before anything is
   * written; the file is marked complete only when exactly `totalBytes` arrived, and on any
   * error or cancel its records and manifest entry are removed, so nothing half-written stays.
   */
  async writeFile(
    model: string,
    file: string,
    totalBytes: number,
    body: (write: (bytes: Uint8Array) => Promise<void>) => Promise<void>,
    opts: StoreOptions = {},
  ): Promise<CachedFile> {
    if (!(Number.isInteger(totalBytes) && totalBytes >= 0)) throw new RangeError(`${file}: bad size ${totalBytes}`);
    const m = await this.requireManifest(model);
    await ensureRoom(totalBytes, `${file} of ${m.label}`, this.estimate);
    if (m.files[file]) await this.dropChunks(model, file);
    const entry: CachedFile = { name: file, size: totalBytes, storedBytes: 0, chunkSize: this.chunkSize, chunkCount: 0, complete: false };
    m.files[file] = entry;
    m.absent = m.absent.filter((f) => f !== file);
    await this.saveManifest(m);
    const recordSize = (): number => Math.min(this.chunkSize, totalBytes - entry.storedBytes);
    let buffer = new Uint8Array(recordSize());
    let filled = 0;
    const commit = async (): Promise<void> => {
      try {
        // Stored as a Blob: the browser keeps it on disk, and `fileBlob` composes such records
        // without ever pulling them back into the page (a multi-GB graph file stays off the heap).
        await set(chunkKey(model, file, entry.chunkCount), new Blob([buffer]), this.stores.chunks);
      } catch (err) {
        throw this.translateWriteError(err, `${file} of ${m.label}`);
      }
      entry.chunkCount += 1;
      entry.storedBytes += filled;
      await this.saveManifest(m);
      opts.onProgress?.({ model, file, loaded: entry.storedBytes, total: totalBytes, phase: 'downloading' });
      // A fresh buffer, since IndexedDB may still be cloning the last one.
      buffer = new Uint8Array(recordSize());
      filled = 0;
    };
    const write = async (bytes: Uint8Array): Promise<void> => {
      if (opts.signal?.aborted) throw new CacheError(`Writing ${file} of ${m.label} was cancelled; nothing of it was kept`);
      if (entry.storedBytes + filled + bytes.byteLength > totalBytes) {
        throw new IntegrityError(`${file} of ${m.label}: more than the announced ${formatBytes(totalBytes)} was written`);
      }
      while (bytes.byteLength > 0) {
        const take = Math.min(bytes.byteLength, buffer.length - filled);
        buffer.set(bytes.subarray(0, take), filled);
        filled += take;
        bytes = bytes.subarray(take);
        if (filled === buffer.length) await commit();
      }
    };
    try {
      await body(write);
      if (opts.signal?.aborted) throw new CacheError(`Writing ${file} of ${m.label} was cancelled; nothing of it was kept`);
      if (entry.storedBytes + filled !== totalBytes) {
        throw new IntegrityError(
          `${file} of ${m.label}: ${formatBytes(entry.storedBytes + filled)} were written of the announced ${formatBytes(totalBytes)}`,
        );
      }
      entry.complete = true;
      await this.saveManifest(m);
    } catch (err) {
      await this.removeFile(model, file).catch(() => undefined);
      throw err;
    }
    opts.onProgress?.({ model, file, loaded: totalBytes, total: totalBytes, phase: 'stored' });
    return entry;
  }

  /**
   * Removes one file of a model (records and manifest entry) without touching the model's
   * status: for files the page derives (graphs), not for the model's own downloads.
   */
  async removeFile(model: string, file: string): Promise<void> {
    await this.dropChunks(model, file);
    const m = await this.manifest(model);
    if (m?.files[file]) {
      delete m.files[file];
      await this.saveManifest(m);
    }
  }

  /** Stores bytes made in the page (generated graphs, compressed variants). */
  async storeBytes(model: string, file: string, bytes: Uint8Array, opts: StoreOptions = {}): Promise<CachedFile> {
    return this.storeFromBlob(model, file, new Blob([bytes as Uint8Array<ArrayBuffer>]), opts);
  }

  private async writeStream(
    m: ModelManifest,
    entry: CachedFile,
    reader: ReadableStreamDefaultReader<Uint8Array>,
    opts: StoreOptions,
    origin: string,
  ): Promise<void> {
    const { key: model } = m;
    const file = entry.name;
    let buffer = new Uint8Array(entry.chunkSize);
    let filled = 0;
    const commit = async (): Promise<void> => {
      const record = filled === buffer.length ? buffer : buffer.slice(0, filled);
      try {
        await set(chunkKey(model, file, entry.chunkCount), record, this.stores.chunks);
      } catch (err) {
        throw this.translateWriteError(err, `${file} of ${m.label}`);
      }
      entry.chunkCount += 1;
      entry.storedBytes += filled;
      await this.saveManifest(m);
      buffer = new Uint8Array(entry.chunkSize);
      filled = 0;
    };
    const report = (): void =>
      opts.onProgress?.({ model, file, loaded: entry.storedBytes + filled, total: entry.size, phase: 'downloading' });
    try {
      for (;;) {
        if (opts.signal?.aborted) throw new AbortedError(`Downloading ${file}`);
        let part: ReadableStreamReadResult<Uint8Array>;
        try {
          part = await reader.read();
        } catch (err) {
          if (opts.signal?.aborted) throw new AbortedError(`Downloading ${file}`);
          throw new DownloadInterruptedError(
            `The connection dropped while downloading ${file} from ${origin} after ${formatBytes(entry.storedBytes + filled)}: ${(err as Error).message}`,
          );
        }
        if (part.done) break;
        let bytes = part.value;
        while (bytes.length > 0) {
          const take = Math.min(bytes.length, buffer.length - filled);
          buffer.set(bytes.subarray(0, take), filled);
          filled += take;
          bytes = bytes.subarray(take);
          if (filled === buffer.length) {
            await commit();
            // One network read can span many records; report each so progress never jumps from 0 to done.
            report();
          }
        }
        report();
      }
      if (filled > 0) await commit();
    } finally {
      reader.releaseLock();
    }
  }

  private async finishFile(m: ModelManifest, entry: CachedFile, opts: StoreOptions): Promise<CachedFile> {
    if (entry.size === null) entry.size = entry.storedBytes;
    if (entry.storedBytes !== entry.size) {
      throw new DownloadInterruptedError(
        `${entry.name} ended after ${formatBytes(entry.storedBytes)} of ${formatBytes(entry.size)}; the rest is fetched on the next attempt`,
      );
    }
    entry.complete = true;
    await this.saveManifest(m);
    opts.onProgress?.({ model: m.key, file: entry.name, loaded: entry.size, total: entry.size, phase: 'stored' });
    return entry;
  }

  /** Removes one file (records and manifest entry), e.g. after it failed validation. */
  async forgetFile(model: string, file: string): Promise<void> {
    await this.dropChunks(model, file);
    const m = await this.requireManifest(model);
    delete m.files[file];
    m.status = 'partial';
    await this.saveManifest(m);
  }

  /** Fails early when the origin's quota cannot hold `bytes` more. */
  async ensureRoom(bytes: number, what: string): Promise<void> {
    await ensureRoom(bytes, what, this.estimate);
  }

  private async dropChunks(model: string, file: string): Promise<void> {
    await this.stores.chunks('readwrite', (s) => requestToPromise(s.delete(chunkRange(model, file))));
    this.lastChunk = null;
  }

  private translateWriteError(err: unknown, what: string): Error {
    if (isQuotaExceeded(err)) {
      return new QuotaError(
        `The browser refused to store ${what}: storage quota exceeded. Delete cached models or variants and retry; finished files are kept.`,
        0,
        0,
      );
    }
    return err instanceof Error ? err : new CacheError(String(err));
  }

  // ── reading ────────────────────────────────────────────────────────────────

  async fileEntry(model: string, file: string): Promise<CachedFile> {
    const m = await this.requireManifest(model);
    const entry = m.files[file];
    if (!entry?.complete) throw new CacheError(`${file} of ${m.label} is not in the cache${entry ? ' (download incomplete)' : ''}`);
    return entry;
  }

  /** Random access to a complete cached file, one chunk fetched at a time. */
  async openFile(model: string, file: string): Promise<ByteSource> {
    const entry = await this.fileEntry(model, file);
    const size = entry.size ?? entry.storedBytes;
    return {
      name: file,
      size,
      read: async (offset, length) => {
        if (offset < 0 || length < 0 || offset + length > size) {
          throw new RangeError(`${file}: read of ${length} bytes at ${offset} is outside the file (${size} bytes)`);
        }
        const out = new Uint8Array(length);
        let pos = offset;
        while (pos < offset + length) {
          const index = Math.floor(pos / entry.chunkSize);
          const chunk = await this.chunk(model, file, index);
          const within = pos - index * entry.chunkSize;
          const take = Math.min(chunk.length - within, offset + length - pos);
          out.set(chunk.subarray(within, within + take), pos - offset);
          pos += take;
        }
        return out;
      },
    };
  }

  async readFile(model: string, file: string): Promise<Uint8Array> {
    const src = await this.openFile(model, file);
    return src.read(0, src.size);
  }

  async readText(model: string, file: string): Promise<string> {
    return new TextDecoder().decode(await this.readFile(model, file));
  }

  /**
   * The file as a Blob built from its chunk records, for `Response` bodies handed to libraries.
   * Folded in one record at a time (a Blob made of Blobs references them, it does not copy),
   * so the page never holds more than one record of a multi-GB graph file at once.
   */
  async fileBlob(model: string, file: string): Promise<Blob> {
    const entry = await this.fileEntry(model, file);
    let blob = new Blob([]);
    for (let i = 0; i < entry.chunkCount; i++) {
      const record = await this.record(model, file, i);
      blob = new Blob([blob, record instanceof Blob ? record : (record as Uint8Array<ArrayBuffer>)]);
    }
    return blob;
  }

  /** One record as stored: bytes (downloads) or a Blob (files written with `writeFile`). */
  private async record(model: string, file: string, index: number): Promise<Uint8Array | Blob> {
    const value = await get<Uint8Array | Blob>(chunkKey(model, file, index), this.stores.chunks);
    if (!value)
      throw new IntegrityError(`Chunk ${index} of ${file} (${model}) is missing from IndexedDB; delete the model and download it again`);
    return value;
  }

  private async chunk(model: string, file: string, index: number): Promise<Uint8Array> {
    const key = `${model}\u0000${file}\u0000${index}`;
    if (this.lastChunk?.key === key) return this.lastChunk.bytes;
    const value = await this.record(model, file, index);
    const bytes = value instanceof Blob ? new Uint8Array(await value.arrayBuffer()) : value;
    this.lastChunk = { key, bytes };
    return bytes;
  }

  private async requireManifest(model: string): Promise<ModelManifest> {
    const m = await this.manifest(model);
    if (!m) throw new CacheError(`No cached model ${model}`);
    return m;
  }
}

function parseContentRange(header: string | null): { start: number; end: number; total: number | null } | null {
  const match = header ? /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(header.trim()) : null;
  if (!match) return null;
  return { start: Number(match[1]), end: Number(match[2]), total: match[3] === '*' ? null : Number(match[3]) };
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(t);
      reject(new AbortedError('The download'));
    });
  });
}
