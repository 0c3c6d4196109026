// The ONNX graph's external data as onnxruntime-web takes it (`session_options.externalData`),
// read from the cache by us rather than by transformers.js, so that we can free it the moment
// the session holds the weights.
import type { Precision } from '../onnx';
import type { ShardCache } from '../storage/shard-cache';
import { graphFiles } from './graph-store';

export interface ExternalDataFile {
  path: string;
  data: Uint8Array;
}

/**
 * The graph's external data files, read from the cache into memory under the names the graph's
 * initializers point at (transformers.js's `model.onnx_data`, `_data_1`, …). Read here rather
 * than by transformers.js so that the buffers are ours to release once the session holds the
 * weights.
 */
export async function readExternalData(cache: ShardCache, key: string, precision: Precision, chunks: number): Promise<ExternalDataFile[]> {
  const { modelFileName } = graphFiles(precision);
  const files: ExternalDataFile[] = [];
  for (let i = 0; i < chunks; i++) {
    const path = `${modelFileName}_data${i === 0 ? '' : `_${i}`}`;
    files.push({ path, data: await readWhole(await cache.fileBlob(key, `onnx/${path}`)) });
  }
  return files;
}

/**
 * A blob's bytes in a buffer allocated by script, filled from its stream: Chromium frees such a
 * buffer when it is detached, but not the one `blob.arrayBuffer()` returns (measured: 400 MB
 * stayed in the renderer after `transfer(0)` and a forced GC).
 */
async function readWhole(blob: Blob): Promise<Uint8Array> {
  const data = new Uint8Array(blob.size);
  const reader = blob.stream().getReader();
  let at = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (at + value.length > data.length) throw new Error(`a cached graph file grew while it was read (over ${data.length} bytes)`);
    data.set(value, at);
    at += value.length;
  }
  if (at !== data.length) throw new Error(`a cached graph file was cut short (${at} of ${data.length} bytes)`);
  return data;
}

/**
 * Frees the external data's buffers now instead of at some later garbage collection: once the
 * session exists onnxruntime-web has copied the weights (into the WASM heap or GPU buffers) and
 * unmounted the files, yet V8 left the dead copy (the size of the fp32 weights) uncollected into
 * generation: 540 MB of ArrayBuffers in the worker after SmolLM2-135M's load, 2 MB after a forced
 * GC (scripts/memory-profile.mjs). Transferring a buffer to length 0 detaches it and drops its
 * backing store at once; where `transfer` is missing the copy is left to the collector.
 */
export function releaseExternalData(files: ExternalDataFile[]): void {
  for (const { data } of files) {
    const buffer = data.buffer as ArrayBuffer & { detached?: boolean; transfer?: (length: number) => ArrayBuffer };
    if (!buffer.detached) buffer.transfer?.(0);
  }
}
