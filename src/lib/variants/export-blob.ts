import type { ShardCache } from '../storage/shard-cache';
import { exportSource } from './store';

/** A re-encoded file is read and encoded in slices of this size, several at once. */
export const EXPORT_SLICE = 16 * 1024 * 1024;

/** Slices in work at once: each read waits on the browser's disk reads, so they overlap. */
export const EXPORT_LANES = 4;

/**
 * An exported file as one Blob, for the browser's download path (which writes a Blob to disk
 * natively, several times faster than a fetch upload of it): the stored Blob itself, or a
 * re-encoded file's slices, each a Blob as soon as it is encoded (the browser may page them to disk).
 * `stored` gives the file as the cache holds it, unencoded: a caller outside the page (the CLI)
 * encodes it faster than the page can, since a page reads its cache's Blobs at tens of MB/s
 * while the download path copies them natively at hundreds.
 */
export async function exportBlob(cache: ShardCache, key: string, path: string, stored = false): Promise<Blob> {
  if (stored) return cache.fileBlob(key, path);
  const src = await exportSource(cache, key, path);
  if (src.blob) return src.blob();
  const parts: Blob[] = new Array<Blob>(Math.ceil(src.size / EXPORT_SLICE));
  let next = 0;
  const lane = async (): Promise<void> => {
    for (let i = next++; i < parts.length; i = next++) {
      const at = i * EXPORT_SLICE;
      parts[i] = new Blob([(await src.read(at, Math.min(EXPORT_SLICE, src.size - at))) as Uint8Array<ArrayBuffer>]);
    }
  };
  await Promise.all(Array.from({ length: EXPORT_LANES }, lane));
  return new Blob(parts);
}
