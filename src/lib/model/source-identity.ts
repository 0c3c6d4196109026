import type { ModelManifest } from '../storage/manifest';
import { relativePath, sourceDescriptor, HUB_HOST, ModelSourceError, type ModelSource } from './sources';
import { encodePath } from '../util/url';

/**
 * A model's cache identity beyond its name: what content a cached copy was taken from, and
 * whether the source still has that content when the model is opened again.
 */

export class SourceChangedError extends ModelSourceError {
  override name = 'SourceChangedError';
}

/** Files up to this size are hashed whole; larger ones in sampled windows. */
const WHOLE_FILE_BYTES = 1 << 20;
const WINDOW_BYTES = 64 * 1024;
const WINDOWS = 8;
const COMMIT = /^[0-9a-f]{40}$/;

async function sha256Hex(bytes: BufferSource): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** Bytes of `file` that stand for its content: all of a small file, else evenly spaced windows (first and last included). */
async function sampledBytes(file: Blob): Promise<Uint8Array<ArrayBuffer>> {
  if (file.size <= WHOLE_FILE_BYTES) return new Uint8Array(await file.arrayBuffer());
  const out = new Uint8Array(WINDOWS * WINDOW_BYTES);
  const step = (file.size - WINDOW_BYTES) / (WINDOWS - 1);
  for (let i = 0; i < WINDOWS; i++) {
    const at = Math.floor(i * step);
    out.set(new Uint8Array(await file.slice(at, at + WINDOW_BYTES).arrayBuffer()), i * WINDOW_BYTES);
  }
  return out;
}

/**
 * A fingerprint of picked files: every path with its size, mtime and a SHA-256 of its bytes
 * (whole up to 1 MiB, else 8 windows of 64 KiB spread over the file, so checkpoints of the same
 * architecture, whose safetensors headers match, still differ). 16 hex digits of the SHA-256
 * over those lines.
 */
export async function filesFingerprint(files: readonly File[]): Promise<string> {
  const lines: string[] = [];
  for (const f of [...files].sort((a, b) => relativePath(a).localeCompare(relativePath(b)))) {
    lines.push(`${relativePath(f)}\t${f.size}\t${f.lastModified}\t${await sha256Hex(await sampledBytes(f))}`);
  }
  return (await sha256Hex(new TextEncoder().encode(lines.join('\n')) as Uint8Array<ArrayBuffer>)).slice(0, 16);
}

/** The source with its content fingerprint filled in (picked files only; others are returned as they are). */
export async function withFingerprint(src: ModelSource): Promise<ModelSource> {
  if (src.kind !== 'files' || src.fingerprint) return src;
  return { ...src, fingerprint: await filesFingerprint(src.files) };
}

function resolveUrl(host: string, repo: string, revision: string, file: string): string {
  return `${host}/${repo}/resolve/${encodeURIComponent(revision)}/${encodePath(file)}`;
}

/**
 * The commit a hub revision points at now: `X-Repo-Commit` of `config.json` at that revision
 * (a HEAD request). A revision that is itself a commit sha is returned as is; null when the
 * host does not say.
 */
export async function hubCommit(src: Extract<ModelSource, { kind: 'hub' }>, fetchFn: typeof fetch = fetch): Promise<string | null> {
  const revision = src.revision ?? 'main';
  if (COMMIT.test(revision)) return revision;
  const res = await fetchFn(resolveUrl(src.host ?? HUB_HOST, src.repo, revision, 'config.json'), { method: 'HEAD', cache: 'no-store' });
  const commit = res.headers.get('x-repo-commit')?.trim().toLowerCase();
  return res.ok && commit && COMMIT.test(commit) ? commit : null;
}

export type SourceCheck = { state: 'unchanged' } | { state: 'unreachable'; reason: string } | { state: 'changed'; detail: string };

/**
 * Compares a complete cached model with its source. Hub: the revision's commit against the one
 * the files were downloaded at. URL (incl. folders served by ctlab): every downloaded file's
 * size, ETag and Last-Modified against a HEAD request now (a missing file counts as changed).
 * Picked files carry their fingerprint in the key, so they are never compared here.
 */
export async function checkSource(manifest: ModelManifest, src: ModelSource, fetchFn: typeof fetch = fetch): Promise<SourceCheck> {
  try {
    if (src.kind === 'hub') {
      const was = manifest.source.commit;
      if (!was) return { state: 'unreachable', reason: 'no commit was recorded when it was downloaded' };
      const now = await hubCommit(src, fetchFn);
      if (!now) return { state: 'unreachable', reason: `${src.host ?? HUB_HOST} did not name the commit of ${src.revision ?? 'main'}` };
      return now === was
        ? { state: 'unchanged' }
        : {
            state: 'changed',
            detail: `${src.revision ?? 'main'} now points at commit ${now.slice(0, 12)}, the cached files are from ${was.slice(0, 12)}`,
          };
    }
    if (src.kind === 'url') {
      for (const f of Object.values(manifest.files)) {
        if (!f.complete || !f.url) continue;
        const res = await fetchFn(f.url, { method: 'HEAD', cache: 'no-store' });
        if (res.status === 404) return { state: 'changed', detail: `${f.name} is no longer at ${f.url}` };
        if (!res.ok) return { state: 'unreachable', reason: `HTTP ${res.status} for ${f.url}` };
        const diff = fileDifference(f, res.headers);
        if (diff) return { state: 'changed', detail: `${f.name} ${diff}` };
      }
      return { state: 'unchanged' };
    }
    return { state: 'unchanged' };
  } catch (err) {
    return { state: 'unreachable', reason: (err as Error).message };
  }
}

/** How the file a server describes differs from the one cached, or null when nothing says so. */
function fileDifference(f: ModelManifest['files'][string], headers: Headers): string | null {
  const length = headers.get('content-length');
  const size = length !== null && headers.get('content-encoding') === null ? Number(length) : null;
  if (size !== null && f.size !== null && size !== f.size) return `is ${size} bytes now, ${f.size} when it was downloaded`;
  const etag = headers.get('etag');
  if (etag && f.etag && etag !== f.etag) return `has ETag ${etag} now, ${f.etag} when it was downloaded`;
  const modified = headers.get('last-modified');
  if (modified && f.lastModified && modified !== f.lastModified)
    return `was modified ${modified}, the cached copy is from ${f.lastModified}`;
  return null;
}

/** The message shown when a cached model's source moved on; it names the model, the file or commit, and the way out. */
export function sourceChangedMessage(label: string, detail: string): string {
  const word = /^[\w.@+-]+$/.test(label) ? label : JSON.stringify(label);
  return `${label} changed at its source since it was downloaded (${detail}). The cached copy is not used: delete ${label} from the cache (the Models list, or ctlab delete --model ${word}) and download it again. Its compressed variants are deleted with it, since they were made from the old weights.`;
}

/**
 * Throws `SourceChangedError` when a complete cached model's source has other content now;
 * an unreachable source (offline, a host that does not say) leaves the cached copy in use.
 */
export async function ensureSourceUnchanged(
  manifest: ModelManifest,
  src: ModelSource,
  fetchFn: typeof fetch = fetch,
): Promise<SourceCheck> {
  const check = await checkSource(manifest, src, fetchFn);
  if (check.state === 'changed') throw new SourceChangedError(sourceChangedMessage(manifest.label, check.detail));
  return check;
}

/**
 * Where a download fetches from and what its manifest records: a hub revision is resolved to
 * the commit it names now (a resumed download keeps the commit it started at), so every file
 * comes from `resolve/<commit>/…` and a branch that moves mid-download cannot splice two
 * commits; other sources are fetched as they are.
 */
export async function pinnedSource(
  src: ModelSource,
  existing: ModelManifest | undefined,
  fetchFn: typeof fetch,
): Promise<{ fetchFrom: ModelSource; record: ModelManifest['source'] }> {
  const record = sourceDescriptor(src);
  if (src.kind !== 'hub') return { fetchFrom: src, record };
  const commit = existing?.source.commit ?? (await hubCommit(src, fetchFn).catch(() => null));
  if (!commit) return { fetchFrom: src, record };
  return { fetchFrom: { ...src, revision: commit }, record: { ...record, commit } };
}
