/**
 * (Over 400 lines: one class, the chunked store, whose download, verification and reads share the
 * manifest and chunk index; HTTP resume helpers are in http-resume.ts.)
 *
 * Model files stored in IndexedDB as fixed-size chunks, downloaded with resume and verified.
 */
import { del, get, set, values } from 'idb-keyval';
import type { ByteSource } from './byte-source';
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
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { emptyManifest, type CachedFile, type ModelManifest } from './manifest';
import { browserEstimate, ensureRoom, type EstimateFn } from './quota';
import { chunkKey, chunkRange, openCacheStores, requestToPromise, type CacheStores } from './stores';
import { changedSince, ifRangeValidator, linkedSha256, parseContentRange, sleep } from './http-resume';

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
  /** The file's SHA-256 (hex) when known from elsewhere, e.g. the hub's LFS metadata; checked before the file is marked complete. */
  sha256?: string;
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
    // A file that changes on the host is started over once per call; a second change is an error.
    const call = { restarted: false };
    for (let attempt = 0; ;) {
      try {
        const result = await this.downloadOnce(m, file, url, opts, call);
        // A shorter 206 than asked (allowed by HTTP), or a restart after the file changed on
        // the host: not a failure, so it uses up no retry; each such answer stored at least a byte.
        if (result === ASK_AGAIN) continue;
        return result;
      } catch (err) {
        const retryable = err instanceof DownloadInterruptedError || (err instanceof HttpError && err.status >= 500);
        if (!retryable || attempt >= this.retries || opts.signal?.aborted) {
          const entry = m.files[file];
          opts.onProgress?.({ model, file, loaded: entry?.storedBytes ?? 0, total: entry?.size ?? null, phase: 'failed' });
          throw err;
        }
        await sleep(this.retryDelayMs * 2 ** attempt, opts.signal);
        attempt++;
      }
    }
  }

  private async downloadOnce(
    m: ModelManifest,
    file: string,
    url: string,
    opts: StoreOptions,
    call: { restarted: boolean },
  ): Promise<CachedFile | null | typeof ASK_AGAIN> {
    const model = m.key;
    let entry: CachedFile | undefined = m.files[file];
    if (entry && entry.storedBytes > 0 && !(await this.resumable(m, entry))) {
      // Records that do not add up (a damaged cache, or one written before records were checked): start over.
      await this.dropChunks(model, file);
      delete m.files[file];
      await this.saveManifest(m);
      entry = undefined;
    }
    const resumeAt = entry?.storedBytes ?? 0;
    const headers: Record<string, string> = {};
    if (entry && resumeAt > 0) {
      headers.Range = `bytes=${resumeAt}-`;
      // If the file changed on the host since the first byte, a server that honours If-Range
      // answers 200 with the whole new file; the validators are rechecked below for those that do not.
      const validator = ifRangeValidator(entry);
      if (validator) headers['If-Range'] = validator;
    }
    opts.onProgress?.({ model, file, loaded: resumeAt, total: entry?.size ?? null, phase: 'checking' });
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

    // `end`: the absolute offset this body must reach, when the response states it.
    let end: number | null;
    let staleChunks = false;
    if (res.status === 206) {
      const header = res.headers.get('content-range');
      const range = parseContentRange(header);
      if (
        !range ||
        range.start !== resumeAt ||
        range.end < range.start ||
        (range.total !== null && range.end >= range.total) ||
        (range.total === null && entry?.size == null)
      ) {
        await res.body?.cancel().catch(() => undefined);
        throw new IntegrityError(
          `${url} answered the request for ${file} of ${m.label} from byte ${resumeAt} with the range "${header ?? '(none)'}", which does not fit; nothing of that answer was stored`,
        );
      }
      const changed = entry && resumeAt > 0 ? changedSince(entry, res, range.total) : null;
      if (changed) {
        await res.body?.cancel().catch(() => undefined);
        // Never splice two versions of a file: what is stored goes, and the file starts over from byte 0.
        await this.dropChunks(model, file);
        delete m.files[file];
        await this.saveManifest(m);
        if (call.restarted) {
          throw new IntegrityError(
            `${file} of ${m.label} changed on the host again while it was being downloaded (${changed}); what was stored of it was discarded. Try again once ${url} is stable.`,
          );
        }
        call.restarted = true;
        return ASK_AGAIN;
      }
      if (!entry || resumeAt === 0) {
        entry = this.newEntry(file, url, range.total, res);
      } else if (entry.size === null) {
        entry.size = range.total;
      }
      end = range.end + 1;
    } else {
      // A full body: anything stored before is stale (or there was nothing).
      staleChunks = resumeAt > 0;
      const length = res.headers.get('content-length');
      entry = this.newEntry(file, url, length !== null && res.headers.get('content-encoding') === null ? Number(length) : null, res);
      end = entry.size;
    }
    m.files[file] = entry;
    m.absent = m.absent.filter((f) => f !== file);
    if (entry.size !== null) await ensureRoom(entry.size - entry.storedBytes, `${file} of ${m.label}`, this.estimate);
    if (staleChunks) await this.dropChunks(model, file);
    await this.saveManifest(m);

    if (!res.body) throw new DownloadInterruptedError(`${url} sent no body for ${file}`);
    await this.writeStream(m, entry, res.body.getReader(), opts, url, end);
    if (end !== null && entry.storedBytes < end) {
      throw new DownloadInterruptedError(
        `${url} ended the body of ${file} after ${formatBytes(entry.storedBytes)} of the announced ${formatBytes(end)}; the rest is fetched on the next attempt`,
      );
    }
    if (res.status === 206 && entry.size !== null && entry.storedBytes < entry.size) return ASK_AGAIN;
    return this.finishFile(m, entry, opts);
  }

  /** Whether a partly stored file's records add up, its last (maybe partial) record included, so appending to it is safe. */
  private async resumable(m: ModelManifest, entry: CachedFile): Promise<boolean> {
    const size = entry.chunkSize;
    if (!(Number.isSafeInteger(size) && size > 0) || entry.chunkCount !== Math.ceil(entry.storedBytes / size)) return false;
    const last = entry.chunkCount - 1;
    try {
      await this.recordBytes(m.key, m.label, entry, last, entry.storedBytes - last * size);
      return true;
    } catch (err) {
      if (err instanceof IntegrityError) return false;
      throw err;
    }
  }

  /**
   * A file's entry at its first byte: size and the host's validators are recorded here and
   * compared on every resume, and a stated SHA-256 is checked before the file is marked complete.
   */
  private newEntry(file: string, url: string, size: number | null, res: Response): CachedFile {
    const entry: CachedFile = { name: file, size, storedBytes: 0, chunkSize: this.chunkSize, chunkCount: 0, complete: false, url };
    const etag = res.headers.get('etag');
    const lastModified = res.headers.get('last-modified');
    const linked = linkedSha256(res);
    if (etag) entry.etag = etag;
    if (lastModified) entry.lastModified = lastModified;
    if (linked) entry.sha256 = linked;
    return entry;
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
    // Records are slices of the Blob itself: the browser copies them into its store without the
    // bytes passing through JavaScript, and `fileBlob` hands them on the same way (exports).
    for (let at = 0; at < blob.size; at += this.chunkSize) {
      if (opts.signal?.aborted) throw new AbortedError(`Storing ${file}`);
      const record = blob.slice(at, Math.min(blob.size, at + this.chunkSize));
      try {
        await set(chunkKey(model, file, entry.chunkCount), record, this.stores.chunks);
      } catch (err) {
        throw this.translateWriteError(err, `${file} of ${m.label}`);
      }
      entry.chunkCount += 1;
      entry.storedBytes = at + record.size;
      await this.saveManifest(m);
      opts.onProgress?.({ model, file, loaded: entry.storedBytes, total: blob.size, phase: 'downloading' });
    }
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

  /**
   * Appends a body to the file's records. Every record but the last holds exactly `chunkSize`
   * bytes; a body that ends cleanly inside a record leaves it as a shorter last record, which
   * the next resume reads back and continues filling, so no short record ever sits mid-file.
   * `end` is the absolute offset the body may reach; more bytes than that are refused.
   */
  private async writeStream(
    m: ModelManifest,
    entry: CachedFile,
    reader: ReadableStreamDefaultReader<Uint8Array>,
    opts: StoreOptions,
    origin: string,
    end: number | null,
  ): Promise<void> {
    const { key: model } = m;
    const file = entry.name;
    const size = entry.chunkSize;
    let index = Math.floor(entry.storedBytes / size);
    let buffer = new Uint8Array(size);
    let filled = entry.storedBytes - index * size;
    if (filled > 0) {
      const tail = await this.recordBytes(model, m.label, entry, index, filled);
      buffer.set(tail);
    }
    const commit = async (): Promise<void> => {
      const record = filled === size ? buffer : buffer.slice(0, filled);
      try {
        await set(chunkKey(model, file, index), record, this.stores.chunks);
      } catch (err) {
        throw this.translateWriteError(err, `${file} of ${m.label}`);
      }
      entry.chunkCount = index + 1;
      entry.storedBytes = index * size + filled;
      await this.saveManifest(m);
      if (filled === size) {
        index += 1;
        buffer = new Uint8Array(size);
        filled = 0;
      }
    };
    const held = (): number => index * size + filled;
    const report = (): void => opts.onProgress?.({ model, file, loaded: held(), total: entry.size, phase: 'downloading' });
    try {
      for (;;) {
        if (opts.signal?.aborted) throw new AbortedError(`Downloading ${file}`);
        let part: ReadableStreamReadResult<Uint8Array>;
        try {
          part = await reader.read();
        } catch (err) {
          if (opts.signal?.aborted) throw new AbortedError(`Downloading ${file}`);
          throw new DownloadInterruptedError(
            `The connection dropped while downloading ${file} from ${origin} after ${formatBytes(held())}: ${(err as Error).message}`,
          );
        }
        if (part.done) break;
        let bytes = part.value;
        if (end !== null && held() + bytes.length > end) {
          await reader.cancel().catch(() => undefined);
          throw new IntegrityError(
            `${origin} sent more of ${file} of ${m.label} than it announced (${formatBytes(end)}); the extra bytes were not stored`,
          );
        }
        while (bytes.length > 0) {
          const take = Math.min(bytes.length, size - filled);
          buffer.set(bytes.subarray(0, take), filled);
          filled += take;
          bytes = bytes.subarray(take);
          if (filled === size) {
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

  /**
   * Marks a fully stored file complete, after checking it: its records must have the lengths
   * the file's size implies, and when the host stated a SHA-256 the stored bytes are hashed
   * record by record (never the whole file in memory) and must match, else the file is dropped.
   */
  private async finishFile(m: ModelManifest, entry: CachedFile, opts: StoreOptions): Promise<CachedFile> {
    if (entry.size === null) entry.size = entry.storedBytes;
    if (entry.storedBytes !== entry.size) {
      throw new DownloadInterruptedError(
        `${entry.name} ended after ${formatBytes(entry.storedBytes)} of ${formatBytes(entry.size)}; the rest is fetched on the next attempt`,
      );
    }
    this.checkLayout(m.label, m.key, entry);
    const expected = opts.sha256?.toLowerCase() ?? entry.sha256;
    if (expected) {
      opts.onProgress?.({ model: m.key, file: entry.name, loaded: entry.size, total: entry.size, phase: 'checking' });
      // Fed one stored record at a time: WebCrypto's digest takes only whole inputs, and a
      // multi-GB weight file must never be held whole to be verified.
      const hash = sha256.create();
      for (let i = 0; i < entry.chunkCount; i++) {
        hash.update(await this.recordBytes(m.key, m.label, entry, i, expectedRecordLength(entry, i)));
      }
      const actual = bytesToHex(hash.digest());
      if (actual !== expected) {
        await this.dropChunks(m.key, entry.name);
        delete m.files[entry.name];
        await this.saveManifest(m);
        throw new IntegrityError(
          `${entry.name} of ${m.label} does not match the SHA-256 its host announced (expected ${expected}, got ${actual}${entry.url ? ` from ${entry.url}` : ''}). It was discarded; nothing of it is kept. Retry the download; if this repeats, the host serves a damaged or different file.`,
        );
      }
      entry.sha256 = actual;
      entry.verified = 'sha256';
    } else {
      entry.verified = 'size';
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
    return (await this.completeFile(model, file)).entry;
  }

  private async completeFile(model: string, file: string): Promise<{ entry: CachedFile; label: string }> {
    const m = await this.requireManifest(model);
    const entry = m.files[file];
    if (!entry?.complete) throw new CacheError(`${file} of ${m.label} is not in the cache${entry ? ' (download incomplete)' : ''}`);
    this.checkLayout(m.label, model, entry);
    return { entry, label: m.label };
  }

  /** Random access to a complete cached file, one chunk fetched at a time. */
  async openFile(model: string, file: string): Promise<ByteSource> {
    const { entry, label } = await this.completeFile(model, file);
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
          // Each record's length is checked on the way in, so `take` is always positive here.
          const chunk = await this.chunk(model, label, entry, index);
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
    const { entry, label } = await this.completeFile(model, file);
    let blob = new Blob([]);
    for (let i = 0; i < entry.chunkCount; i++) {
      const record = await this.record(model, label, entry, i);
      const length = record instanceof Blob ? record.size : record.byteLength;
      if (length !== expectedRecordLength(entry, i))
        throw damagedRecord(label, entry, i, `holds ${length} bytes where ${expectedRecordLength(entry, i)} belong`);
      blob = new Blob([blob, record instanceof Blob ? record : (record as Uint8Array<ArrayBuffer>)]);
    }
    return blob;
  }

  /** A stored file must have exactly the records its size implies, or reads would shift or never end. */
  private checkLayout(label: string, model: string, entry: CachedFile): void {
    const size = entry.size ?? entry.storedBytes;
    const ok =
      Number.isSafeInteger(entry.chunkSize) &&
      entry.chunkSize > 0 &&
      entry.storedBytes === size &&
      entry.chunkCount === Math.ceil(size / entry.chunkSize);
    if (!ok) {
      throw new IntegrityError(
        `${entry.name} of model ${label} (${model}) is recorded as ${entry.chunkCount} records of ${entry.chunkSize} bytes for ${size} bytes, which does not add up: the cached copy is damaged. Delete the model and download it again.`,
      );
    }
  }

  /** One record as stored: bytes (downloads) or a Blob (files written with `writeFile`). */
  private async record(model: string, label: string, entry: CachedFile, index: number): Promise<Uint8Array | Blob> {
    const value = await get<unknown>(chunkKey(model, entry.name, index), this.stores.chunks);
    if (value === undefined) throw damagedRecord(label, entry, index, 'is missing from IndexedDB');
    if (!(value instanceof Uint8Array) && !(value instanceof Blob))
      throw damagedRecord(label, entry, index, 'holds something that is not file bytes');
    return value;
  }

  /** One record's bytes, which must be exactly `length` long. */
  private async recordBytes(model: string, label: string, entry: CachedFile, index: number, length: number): Promise<Uint8Array> {
    const value = await this.record(model, label, entry, index);
    const bytes = value instanceof Blob ? new Uint8Array(await value.arrayBuffer()) : value;
    if (bytes.length !== length) throw damagedRecord(label, entry, index, `holds ${bytes.length} bytes where ${length} belong`);
    return bytes;
  }

  private async chunk(model: string, label: string, entry: CachedFile, index: number): Promise<Uint8Array> {
    const key = `${model}\u0000${entry.name}\u0000${index}`;
    if (this.lastChunk?.key === key) return this.lastChunk.bytes;
    const bytes = await this.recordBytes(model, label, entry, index, expectedRecordLength(entry, index));
    this.lastChunk = { key, bytes };
    return bytes;
  }

  private async requireManifest(model: string): Promise<ModelManifest> {
    const m = await this.manifest(model);
    if (!m) throw new CacheError(`No cached model ${model}`);
    return m;
  }
}

/** Returned by one download attempt when the host should simply be asked for the rest. */
const ASK_AGAIN = Symbol('ask again');

/** Every record but the last holds `chunkSize` bytes; the last holds what remains. */
function expectedRecordLength(entry: CachedFile, index: number): number {
  const size = entry.size ?? entry.storedBytes;
  return Math.min(entry.chunkSize, size - index * entry.chunkSize);
}

function damagedRecord(label: string, entry: CachedFile, index: number, what: string): IntegrityError {
  return new IntegrityError(
    `Record ${index} of ${entry.name} of model ${label} ${what}: the cached copy is damaged. Delete the model and download it again.`,
  );
}
