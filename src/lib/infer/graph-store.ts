import { openWeights, type CachedModel } from '../model/download';
import { buildCausalLmStreaming, type Precision, type StreamingCausalLm } from '../onnx';
import { MAX_EXTERNAL_DATA_FILES } from '../onnx/external-data';
import type { ShardCache } from '../storage/shard-cache';

/**
 * Bumped whenever the graph builder changes what it emits, so cached graphs are rebuilt.
 * 2: graphs are only ever built in the page. Before, a downloaded folder's own
 * `onnx/ctlab-graph.json` (version 1) was stored and run as is, so a version-1 graph is
 * trusted only in a variant's entry, which the page wrote itself.
 * 3: the `num_logits_to_keep` input. A variant's graph of an earlier version stays: the page wrote
 * it, it runs as it is (transformers.js feeds the input only to graphs that declare it), and
 * building it again would need the packed weights, which only its compression had.
 * 4: the `prefix_key_values` inputs (a batch's shared prefix held once). A variant's earlier
 * graph stays for the same reason; its batches decode through transformers.js as before.
 * 5: the `new_key_values` outputs (a pass's own keys and values, for a cache kept in host
 * memory). A variant's earlier graph stays; its batches fetch the whole `present` as before.
 */
export const GRAPH_VERSION = 5;
const MAX_GRAPH_CHUNKS = MAX_EXTERNAL_DATA_FILES;
export const GRAPH_INFO_FILE = 'onnx/ctlab-graph.json';
export const GRAPH_FILE = 'onnx/model.onnx';

/**
 * The files of a graph of `precision`: transformers.js loads `onnx/model.onnx` for dtype fp32
 * and `onnx/model_fp16.onnx` for fp16, with external data named after the model file.
 */
export function graphFiles(precision: Precision = 'fp32'): { model: string; info: string; modelFileName: string } {
  return precision === 'fp32'
    ? { model: GRAPH_FILE, info: GRAPH_INFO_FILE, modelFileName: 'model.onnx' }
    : { model: 'onnx/model_fp16.onnx', info: 'onnx/ctlab-graph_fp16.json', modelFileName: 'model_fp16.onnx' };
}

export interface GraphInfo {
  version: number;
  /** External data files `model.onnx_data`, `_data_1`, …: transformers.js's `use_external_data_format`. */
  chunks: number;
  linear: 'matmul' | 'matmulnbits';
  bytes: number;
  builtAt: number;
}

export class GraphInfoError extends Error {
  override name = 'GraphInfoError';
}

/** A graph description read back from the cache, every field checked (the chunk count bounds the files fetched). */
export function parseGraphInfo(text: string, where: string): GraphInfo {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new GraphInfoError(`${where} is not valid JSON: ${(err as Error).message}`);
  }
  const info = raw as Partial<GraphInfo> | null;
  if (typeof info !== 'object' || info === null) throw new GraphInfoError(`${where} is not a graph description (a JSON object)`);
  if (!Number.isInteger(info.version)) throw new GraphInfoError(`${where}: version must be an integer, got ${String(info.version)}`);
  if (!Number.isInteger(info.chunks) || info.chunks! < 0 || info.chunks! > MAX_GRAPH_CHUNKS)
    throw new GraphInfoError(
      `${where}: chunks must be an integer from 0 to ${MAX_GRAPH_CHUNKS} (external data files of at most 1 GiB), got ${String(info.chunks)}`,
    );
  if (info.linear !== 'matmul' && info.linear !== 'matmulnbits')
    throw new GraphInfoError(`${where}: linear must be "matmul" or "matmulnbits", got ${String(info.linear)}`);
  if (!(typeof info.bytes === 'number' && Number.isSafeInteger(info.bytes) && info.bytes >= 0))
    throw new GraphInfoError(`${where}: bytes must be a non-negative integer, got ${String(info.bytes)}`);
  return info as GraphInfo;
}

export async function storedGraph(cache: ShardCache, key: string, precision: Precision = 'fp32'): Promise<GraphInfo | null> {
  const { info: infoFile } = graphFiles(precision);
  const manifest = await cache.manifest(key);
  if (!manifest?.files[infoFile]?.complete) return null;
  const info = parseGraphInfo(await cache.readText(key, infoFile), `${infoFile} of ${manifest.label}`);
  const current =
    info.version === GRAPH_VERSION || (info.version < GRAPH_VERSION && info.version >= 1 && manifest.source.kind === 'variant');
  return current ? info : null;
}

/** Bytes the graph's files take: `model.onnx` plus every external data chunk. */
export function graphBytes(graph: StreamingCausalLm): number {
  return graph.model.byteLength + graph.externalFiles.reduce((sum, f) => sum + f.byteLength, 0);
}

/** Bytes of a graph's files written so far, of all of them: the build runs as they are written. */
export type GraphProgressFn = (doneBytes: number, totalBytes: number) => void;

export interface StoreGraphOptions {
  onStatus?: (msg: string) => void;
  onProgress?: GraphProgressFn;
  signal?: AbortSignal;
  /** Which graph slot to write (default fp32); the graph must have been laid out for its file names. */
  precision?: Precision;
}

/**
 * Writes a laid-out graph into the cache as `onnx/model.onnx` + its external data, streaming
 * each chunk file record by record, and `onnx/ctlab-graph.json` last: its presence means every
 * file before it is complete. The quota is checked for all files before the first byte is
 * written; on failure every graph file written so far is removed again.
 */
export async function storeGraph(
  cache: ShardCache,
  key: string,
  label: string,
  graph: StreamingCausalLm,
  linear: GraphInfo['linear'],
  opts: StoreGraphOptions = {},
): Promise<GraphInfo> {
  const bytes = graphBytes(graph);
  const names = graphFiles(opts.precision);
  await cache.ensureRoom(bytes, `the ONNX graph of ${label}`);
  const files = [names.model, ...graph.externalFiles.map((f) => `onnx/${f.path}`)];
  // A stale graph's info goes first, so a crash while rewriting cannot leave it pointing at new files.
  await cache.removeFile(key, names.info);
  let written = 0;
  try {
    await cache.storeBytes(key, names.model, graph.model, { signal: opts.signal });
    written += graph.model.byteLength;
    opts.onProgress?.(written, bytes);
    for (const [i, f] of graph.externalFiles.entries()) {
      opts.onStatus?.(`writing ${f.path} of the ONNX graph (${i + 1} of ${graph.externalFiles.length})`);
      const before = written;
      await cache.writeFile(key, `onnx/${f.path}`, f.byteLength, (write) => graph.writeExternal(i, write), {
        signal: opts.signal,
        // Each committed record reports; the closing "stored" would repeat the last.
        onProgress: (e) => e.phase === 'downloading' && opts.onProgress?.(before + e.loaded, bytes),
      });
      written += f.byteLength;
    }
    const info: GraphInfo = { version: GRAPH_VERSION, chunks: graph.externalDataChunks, linear, bytes, builtAt: Date.now() };
    await cache.storeBytes(key, names.info, new TextEncoder().encode(JSON.stringify(info)));
    return info;
  } catch (err) {
    for (const f of files) await cache.removeFile(key, f).catch(() => undefined);
    throw err;
  }
}

/**
 * The ONNX decoder of a cached checkpoint, built once from its safetensors and kept in the
 * cache beside them (`onnx/model.onnx` + external data), where transformers.js finds it.
 * Tensors are read from the cache one at a time as their place in the external data comes up,
 * so the build holds about one tensor, never the model.
 */
export async function ensureDenseGraph(
  cache: ShardCache,
  model: CachedModel,
  onStatus?: (msg: string) => void,
  precision: Precision = 'fp32',
  onProgress?: GraphProgressFn,
): Promise<GraphInfo> {
  const existing = await storedGraph(cache, model.key, precision);
  if (existing) return existing;
  onStatus?.(precision === 'fp32' ? 'building the ONNX graph' : `building the ONNX graph (${precision} weights)`);
  const weights = await openWeights(cache, model);
  const graph = buildCausalLmStreaming(
    model.spec,
    async (name) => {
      const v = await weights.float32(name);
      const bad = v.findIndex((x) => !Number.isFinite(x));
      if (bad >= 0) {
        throw new Error(
          `${name} of ${model.label} holds ${v[bad]} at element ${bad}: the checkpoint is corrupt or was saved after a diverged run; refusing to build a graph from it`,
        );
      }
      return v;
    },
    { precision, externalData: { modelFileName: graphFiles(precision).modelFileName } },
  );
  return storeGraph(cache, model.key, model.label, graph, 'matmul', { onStatus, onProgress, precision });
}
