/** What the cache knows about one stored file of a model. */
export interface CachedFile {
  /** Path inside the model folder, e.g. `model.safetensors` or `onnx/model.onnx`. */
  name: string;
  /** Total size when known (Content-Length / Content-Range / File.size). */
  size: number | null;
  /**
   * Bytes held in committed records. Every record but the last holds exactly `chunkSize` bytes;
   * the last may be shorter, also before the file is complete (a resume continues filling it).
   */
  storedBytes: number;
  chunkSize: number;
  chunkCount: number;
  /** Set only after every byte arrived and the file passed its check (`verified`). */
  complete: boolean;
  /** How the file was checked before it was marked complete: its SHA-256, or its size alone. */
  verified?: 'sha256' | 'size';
  url?: string;
  etag?: string;
  /** SHA-256 the host stated (the hub's `X-Linked-Etag` for LFS files); once complete, the one the stored bytes were hashed to. */
  sha256?: string;
  lastModified?: string;
}

/** Where a cached model came from, and which content it was taken at. */
export interface ModelSourceRecord {
  kind: string;
  location: string;
  revision?: string;
  /**
   * The hub commit every file was downloaded at (the resolve URL's `X-Repo-Commit`): files are
   * fetched from `resolve/<commit>/…`, so a moving branch cannot splice two commits together,
   * and a later open compares the branch's commit with it.
   */
  commit?: string;
  /**
   * For picked folders: a fingerprint of every file (path, size, mtime, SHA-256 of sampled
   * bytes); it is also part of the cache key, so two folders of the same name never share one.
   */
  fingerprint?: string;
}

export interface ModelManifest {
  /** Cache key of the model, e.g. `hf:org/name@main` or `url:http://…/stories260k`. */
  key: string;
  label: string;
  source: ModelSourceRecord;
  files: Record<string, CachedFile>;
  /** Optional files the source does not have (so a later load does not ask again). */
  absent: string[];
  /** `complete` only once every required file is stored and validated. */
  status: 'partial' | 'complete';
  error?: string;
  createdAt: number;
  updatedAt: number;
}

export function storedBytes(m: ModelManifest): number {
  return Object.values(m.files).reduce((sum, f) => sum + f.storedBytes, 0);
}

export function emptyManifest(key: string, label: string, source: ModelManifest['source']): ModelManifest {
  const now = Date.now();
  return { key, label, source, files: {}, absent: [], status: 'partial', createdAt: now, updatedAt: now };
}
