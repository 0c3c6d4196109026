/**
 * Where each weight goes in the external data files.
 *
 * transformers.js (`utils/model-loader.js`, `getExternalDataChunkNames`) fetches the chunks of
 * `onnx/{name}.onnx` as `{name}.onnx_data`, `{name}.onnx_data_1`, `{name}.onnx_data_2`, … when
 * `use_external_data_format` (or `config["transformers.js_config"].use_external_data_format`) is
 * the chunk count, and hands them to onnxruntime as `externalData: [{path, data}]` with `path` the
 * bare file name; each initializer's `location` must therefore be that bare name.
 */

export interface ExternalDataOptions {
  /** The ONNX file the data belongs to; chunk names derive from it. Default `model.onnx`. */
  modelFileName?: string;
  /** Upper bound on one chunk file; a single larger tensor gets a chunk of its own. Default 1 GiB. */
  maxChunkBytes?: number;
  /** Every tensor starts at a multiple of this many bytes within its chunk. Default 64. */
  align?: number;
}

export interface Placement {
  /** Index into the chunk list. */
  chunk: number;
  offset: number;
  length: number;
}

export interface ExternalDataLayout {
  /** File names, in transformers.js order. */
  files: string[];
  /** Byte size of each chunk file. */
  chunkBytes: number[];
  /** One per input size, in input order. */
  placements: Placement[];
}

export const DEFAULT_MAX_CHUNK_BYTES = 1 << 30;
export const DEFAULT_ALIGN = 64;
/** Chunks are ≤ 1 GiB each: 4096 of them is 4 TiB, beyond any model this page runs. */
export const MAX_EXTERNAL_DATA_FILES = 4096;

/** transformers.js's chunk names for `modelFileName` (e.g. `model.onnx` → `model.onnx_data`, `model.onnx_data_1`). */
export function externalDataFileNames(modelFileName: string, count: number): string[] {
  // A count read from a file must not become a billion names.
  if (!Number.isInteger(count) || count < 0 || count > MAX_EXTERNAL_DATA_FILES)
    throw new RangeError(`${modelFileName}: ${count} external data files is not a valid count (0 to ${MAX_EXTERNAL_DATA_FILES})`);
  return Array.from({ length: count }, (_, i) => `${modelFileName}_data${i === 0 ? '' : `_${i}`}`);
}

const alignUp = (n: number, a: number): number => Math.ceil(n / a) * a;

/**
 * Packs tensors of the given byte sizes, in order, into chunks of at most `maxChunkBytes`
 * (a tensor larger than that sits alone in its own chunk), each aligned to `align` bytes.
 */
export function layoutExternalData(sizes: readonly number[], opts: ExternalDataOptions = {}): ExternalDataLayout {
  const maxChunk = opts.maxChunkBytes ?? DEFAULT_MAX_CHUNK_BYTES;
  const align = opts.align ?? DEFAULT_ALIGN;
  if (!(align > 0 && Number.isInteger(align))) throw new Error(`align must be a positive integer, got ${align}`);
  if (!(maxChunk > 0)) throw new Error(`maxChunkBytes must be positive, got ${maxChunk}`);
  const placements: Placement[] = [];
  const chunkBytes: number[] = [];
  let used = 0; // bytes used in the last chunk
  for (const size of sizes) {
    if (!(size >= 0 && Number.isInteger(size))) throw new Error(`bad tensor size ${size}`);
    let offset = alignUp(used, align);
    if (chunkBytes.length === 0 || (used > 0 && offset + size > maxChunk)) {
      chunkBytes.push(0);
      offset = 0;
    }
    placements.push({ chunk: chunkBytes.length - 1, offset, length: size });
    used = offset + size;
    chunkBytes[chunkBytes.length - 1] = used;
  }
  const files = externalDataFileNames(opts.modelFileName ?? 'model.onnx', chunkBytes.length);
  return { files, chunkBytes, placements };
}
