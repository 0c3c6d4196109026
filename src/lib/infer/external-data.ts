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
    const blob = await cache.fileBlob(key, `onnx/${path}`);
    files.push({ path, data: new Uint8Array(await blob.arrayBuffer()) });
  }
  return files;
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
