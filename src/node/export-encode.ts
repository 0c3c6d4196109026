import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import type { ByteSource } from '../lib/storage/byte-source';
import { exportedSafetensors } from '../lib/variants/export-dtype';

/** Encoded in slices of this size: small enough to stay in the CPU caches (16 MB slices took 2.5× as long). */
const SLICE = 1024 * 1024;

/** Slices in work at once, so one's disk reads and writes overlap another's encoding. */
const LANES = 3;

/** A file read by positioned reads (Node's file Blobs read several times slower). */
function handleSource(name: string, file: FileHandle, size: number): ByteSource {
  return {
    name,
    size,
    read: async (offset, length) => {
      if (offset < 0 || length < 0 || offset + length > size)
        throw new RangeError(`${name}: read of ${length} bytes at ${offset} is outside the file (${size} bytes)`);
      const out = new Uint8Array(length);
      for (let done = 0; done < length;) {
        const { bytesRead } = await file.read(out, done, length - done, offset + done);
        if (bytesRead === 0) throw new Error(`${name}: the file ended at ${offset + done} of ${size} bytes`);
        done += bytesRead;
      }
      return out;
    },
  };
}

/**
 * A variant's `model.safetensors` as the cache stores it (fp32, saved from the page's download
 * path into `stored`) written to `target` as the export has it: each tensor in its base
 * checkpoint's dtype, by the page's own encoder. `stored` is renamed to `target` when nothing
 * needs encoding and left for the caller to remove otherwise. Returns the bytes of `target`.
 */
export async function writeExportedSafetensors(stored: string, target: string): Promise<number> {
  const input = await open(stored, 'r');
  try {
    const cached = handleSource('model.safetensors', input, (await input.stat()).size);
    const exported = await exportedSafetensors(cached);
    if (exported === cached) {
      await rename(stored, target);
      return cached.size;
    }
    // A link at the target is replaced, never written through.
    await rm(target, { force: true });
    const out = await open(target, 'wx');
    try {
      let next = 0;
      const lane = async (): Promise<void> => {
        for (let at = next; at < exported.size; at = next) {
          next += SLICE;
          const bytes = await exported.read(at, Math.min(SLICE, exported.size - at));
          for (let done = 0; done < bytes.byteLength;)
            done += (await out.write(bytes, done, bytes.byteLength - done, at + done)).bytesWritten;
        }
      };
      await Promise.all(Array.from({ length: LANES }, lane));
    } finally {
      await out.close();
    }
    return exported.size;
  } finally {
    await input.close();
  }
}
