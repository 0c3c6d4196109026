import { openWeights, type CachedModel } from '../model/download';
import { buildCausalLm } from '../onnx';
import type { ShardCache } from '../storage/shard-cache';

/** Bumped whenever the graph builder changes what it emits, so cached graphs are rebuilt. */
export const GRAPH_VERSION = 1;
export const GRAPH_INFO_FILE = 'onnx/ctlab-graph.json';
export const GRAPH_FILE = 'onnx/model.onnx';

export interface GraphInfo {
  version: number;
  /** External data files `model.onnx_data`, `_data_1`, …: transformers.js's `use_external_data_format`. */
  chunks: number;
  linear: 'matmul' | 'matmulnbits';
  bytes: number;
  builtAt: number;
}

export async function storedGraph(cache: ShardCache, key: string): Promise<GraphInfo | null> {
  const manifest = await cache.manifest(key);
  if (!manifest?.files[GRAPH_INFO_FILE]?.complete) return null;
  const info = JSON.parse(await cache.readText(key, GRAPH_INFO_FILE)) as GraphInfo;
  return info.version === GRAPH_VERSION ? info : null;
}

/**
 * The ONNX decoder of a cached checkpoint, built once from its safetensors and kept in the
 * cache beside them (`onnx/model.onnx` + external data), where transformers.js finds it.
 */
export async function ensureDenseGraph(cache: ShardCache, model: CachedModel, onStatus?: (msg: string) => void): Promise<GraphInfo> {
  const existing = await storedGraph(cache, model.key);
  if (existing) return existing;
  onStatus?.('building the ONNX graph');
  const weights = await openWeights(cache, model);
  const values = new Map<string, Float32Array>();
  for (const name of weights.names()) {
    const v = await weights.float32(name);
    const bad = v.findIndex((x) => !Number.isFinite(x));
    if (bad >= 0) {
      throw new Error(
        `${name} of ${model.label} holds ${v[bad]} at element ${bad}: the checkpoint is corrupt or was saved after a diverged run; refusing to build a graph from it`,
      );
    }
    values.set(name, v);
  }
  const graph = buildCausalLm(model.spec, values);
  values.clear();
  let bytes = graph.model.byteLength;
  await cache.storeBytes(model.key, GRAPH_FILE, graph.model);
  for (const ext of graph.externalData) {
    await cache.storeBytes(model.key, `onnx/${ext.path}`, ext.data);
    bytes += ext.data.byteLength;
  }
  const info: GraphInfo = { version: GRAPH_VERSION, chunks: graph.externalDataChunks, linear: 'matmul', bytes, builtAt: Date.now() };
  // Written last: its presence means every graph file before it is complete.
  await cache.storeBytes(model.key, GRAPH_INFO_FILE, new TextEncoder().encode(JSON.stringify(info)));
  return info;
}
