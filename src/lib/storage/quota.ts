import { QuotaError, formatBytes } from './errors';

export interface StorageEstimateLike {
  quota?: number;
  usage?: number;
}
export type EstimateFn = () => Promise<StorageEstimateLike>;

export const browserEstimate: EstimateFn = async () =>
  typeof navigator !== 'undefined' && navigator.storage?.estimate ? navigator.storage.estimate() : {};

/** Throws before anything is written when the origin's quota cannot hold `bytes` more. */
export async function ensureRoom(bytes: number, what: string, estimate: EstimateFn = browserEstimate): Promise<void> {
  const { quota, usage } = await estimate();
  if (quota === undefined || usage === undefined) return;
  const available = Math.max(0, quota - usage);
  if (bytes > available) {
    throw new QuotaError(
      `Not enough browser storage for ${what}: it needs ${formatBytes(bytes)} but only ${formatBytes(available)} of this site's ${formatBytes(quota)} quota is free. Delete cached models or variants, or free disk space, then retry; the download resumes where it stopped.`,
      bytes,
      available,
    );
  }
}

/** Asks the browser not to evict the cache under storage pressure; returns whether it agreed. */
export async function requestPersistence(): Promise<boolean> {
  if (typeof navigator === 'undefined' || !navigator.storage?.persist) return false;
  try {
    return (await navigator.storage.persisted()) || (await navigator.storage.persist());
  } catch {
    return false;
  }
}
