import type { GraphProgressFn } from '../infer/graph-store';
import type { ShardCache } from '../storage/shard-cache';
import { exportSource, exportVariantFiles, type VariantFile } from './store';

/** Where a variant's files go: an upload endpoint that takes each file in slices, in any order. */
export interface UploadTarget {
  /** Absolute URL of the endpoint (same origin as the page: the CSP allows connect-src 'self' only). */
  url: string;
  /** Sent as `x-ctlab-token`; the endpoint refuses anything else. */
  token: string;
}

/** Large enough that a request's own cost vanishes, small enough that several in flight are cheap. */
export const UPLOAD_SLICE = 16 * 1024 * 1024;

/**
 * Requests in flight at once. One Blob upload leaves Chromium far slower than the loopback
 * socket takes it (each goes through the blob registry and the network service in small
 * reads), and a re-encoded slice is read and encoded while the others are on the wire.
 */
export const UPLOADS_IN_FLIGHT = 4;

type SliceReader = (at: number, end: number) => Promise<Blob>;

/**
 * Sends each exported file of a variant to `target` as PUT requests of up to `UPLOAD_SLICE`
 * bytes (`?path=&offset=`), `UPLOADS_IN_FLIGHT` at a time, files and slices taken in order. A
 * file exported as cached goes as slices of its stored Blob; a re-encoded one is read and
 * encoded slice by slice. Returns the files sent.
 */
export async function uploadVariant(
  cache: ShardCache,
  key: string,
  target: UploadTarget,
  onGraphProgress?: GraphProgressFn,
): Promise<VariantFile[]> {
  const files = await exportVariantFiles(cache, key, onGraphProgress);
  const readers = new Map<string, Promise<SliceReader>>();
  const readerOf = (path: string): Promise<SliceReader> => {
    let r = readers.get(path);
    if (!r) {
      r = openReader(cache, key, path);
      readers.set(path, r);
    }
    return r;
  };
  // An empty file is still one (empty) request: it creates the file.
  const slices = files.flatMap((f) =>
    Array.from({ length: Math.max(1, Math.ceil(f.bytes / UPLOAD_SLICE)) }, (_, i) => ({
      path: f.path,
      at: i * UPLOAD_SLICE,
      end: Math.min(f.bytes, (i + 1) * UPLOAD_SLICE),
    })),
  );
  let next = 0;
  let failed = false;
  const lane = async (): Promise<void> => {
    while (!failed && next < slices.length) {
      const s = slices[next++];
      try {
        const body = await (await readerOf(s.path))(s.at, s.end);
        await put(target, s.path, s.at, body);
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(UPLOADS_IN_FLIGHT, slices.length) }, lane));
  return files;
}

/**
 * An exported file as one Blob, for the browser's download path (which writes a Blob to disk
 * natively, several times faster than a fetch upload of it): the stored Blob itself, or a
 * re-encoded file's slices, each a Blob as soon as it is encoded (the browser may page them to disk).
 */
export async function exportBlob(cache: ShardCache, key: string, path: string): Promise<Blob> {
  const src = await exportSource(cache, key, path);
  if (src.blob) return src.blob();
  // Several slices read and encoded at once: each read waits on the browser's disk reads.
  const parts: Blob[] = new Array<Blob>(Math.ceil(src.size / UPLOAD_SLICE));
  let next = 0;
  const lane = async (): Promise<void> => {
    for (let i = next++; i < parts.length; i = next++) {
      const at = i * UPLOAD_SLICE;
      parts[i] = new Blob([(await src.read(at, Math.min(UPLOAD_SLICE, src.size - at))) as Uint8Array<ArrayBuffer>]);
    }
  };
  await Promise.all(Array.from({ length: UPLOADS_IN_FLIGHT }, lane));
  return new Blob(parts);
}

async function openReader(cache: ShardCache, key: string, path: string): Promise<SliceReader> {
  const src = await exportSource(cache, key, path);
  // Blob bodies: Chromium sends an ArrayBuffer body an order of magnitude slower than a Blob.
  if (src.blob) {
    const whole = await src.blob();
    return async (at, end) => whole.slice(at, end);
  }
  return async (at, end) => new Blob([(await src.read(at, end - at)) as Uint8Array<ArrayBuffer>]);
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
