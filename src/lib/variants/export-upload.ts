import type { GraphProgressFn } from '../infer/graph-store';
import type { ShardCache } from '../storage/shard-cache';
import { exportSource, exportVariantFiles, type VariantFile } from './store';

/** Where a variant's files go: an upload endpoint that takes each file in order, in slices. */
export interface UploadTarget {
  /** Absolute URL of the endpoint (same origin as the page: the CSP allows connect-src 'self' only). */
  url: string;
  /** Sent as `x-ctlab-token`; the endpoint refuses anything else. */
  token: string;
}

/** Large enough that a request's own cost vanishes, small enough that two in flight are cheap. */
export const UPLOAD_SLICE = 32 * 1024 * 1024;

/**
 * Sends each exported file of a variant to `target` as PUT requests of up to `UPLOAD_SLICE`
 * bytes (`?path=&offset=`), in order. A file exported as cached goes as slices of its stored
 * Blob; a re-encoded one is read slice by slice, the next while the current one is on the wire.
 * Returns the files sent.
 */
export async function uploadVariant(
  cache: ShardCache,
  key: string,
  target: UploadTarget,
  onGraphProgress?: GraphProgressFn,
): Promise<VariantFile[]> {
  const files = await exportVariantFiles(cache, key, onGraphProgress);
  for (const f of files) {
    const src = await exportSource(cache, key, f.path);
    const whole = src.blob ? await src.blob() : null;
    // Blob bodies: Chromium sends an ArrayBuffer body an order of magnitude slower than a Blob.
    const read = async (at: number): Promise<Blob> => {
      const end = Math.min(f.bytes, at + UPLOAD_SLICE);
      return whole ? whole.slice(at, end) : new Blob([(await src.read(at, end - at)) as Uint8Array<ArrayBuffer>]);
    };
    let next = read(0);
    for (let at = 0; ; at += UPLOAD_SLICE) {
      const body = await next;
      const after = at + body.size;
      if (after < f.bytes) next = read(after);
      await put(target, f.path, at, body);
      if (after >= f.bytes) break;
    }
  }
  return files;
}

async function put(target: UploadTarget, path: string, offset: number, body: Blob): Promise<void> {
  const url = `${target.url}?${new URLSearchParams({ path, offset: String(offset) })}`;
  const res = await fetch(url, {
    method: 'PUT',
    headers: { 'x-ctlab-token': target.token, 'content-type': 'application/octet-stream' },
    body,
  });
  if (!res.ok) throw new Error(`exporting ${path} (bytes from ${offset}): the upload endpoint answered ${res.status} ${await res.text()}`);
}
