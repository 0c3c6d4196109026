/**
 * What a resumable HTTP download needs from the response: the hub's content hash, the validator
 * for `If-Range`, whether a resumed answer is still the same file, `Content-Range`, and a backoff
 * pause that an abort ends.
 */
import { AbortedError } from './errors';
import type { CachedFile } from './manifest';

/** The hub's `X-Linked-Etag` (the LFS object's SHA-256), when the response carries one. */
export function linkedSha256(res: Response): string | null {
  const linked = res.headers.get('x-linked-etag')?.replace(/^W\//, '').replace(/"/g, '').trim().toLowerCase();
  return linked && /^[0-9a-f]{64}$/.test(linked) ? linked : null;
}

/**
 * What to send as `If-Range`: a strong ETag, else the Last-Modified date (RFC 9110 §13.1.5 does
 * not allow a weak ETag there, and sirv, which serves the local folders, sends only weak ones).
 */
export function ifRangeValidator(entry: CachedFile): string | null {
  if (entry.etag && !entry.etag.startsWith('W/')) return entry.etag;
  return entry.lastModified ?? null;
}

/**
 * Why a resumed answer belongs to another version of the file than the bytes already stored,
 * or null when size and every validator recorded at the first byte still match.
 */
export function changedSince(entry: CachedFile, res: Response, total: number | null): string | null {
  if (entry.size !== null && total !== null && total !== entry.size) return `its size changed from ${entry.size} to ${total} bytes`;
  const etag = res.headers.get('etag');
  if (entry.etag && etag !== entry.etag) return `its ETag changed from ${entry.etag} to ${etag ?? '(none)'}`;
  const lastModified = res.headers.get('last-modified');
  if (entry.lastModified && lastModified !== entry.lastModified)
    return `its Last-Modified date changed from ${entry.lastModified} to ${lastModified ?? '(none)'}`;
  const linked = linkedSha256(res);
  if (entry.sha256 && linked && linked !== entry.sha256) return `its SHA-256 changed from ${entry.sha256} to ${linked}`;
  return null;
}

export function parseContentRange(header: string | null): { start: number; end: number; total: number | null } | null {
  const match = header ? /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(header.trim()) : null;
  if (!match) return null;
  return { start: Number(match[1]), end: Number(match[2]), total: match[3] === '*' ? null : Number(match[3]) };
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(t);
      reject(new AbortedError('The download'));
    });
  });
}
