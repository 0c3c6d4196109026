import { toxicLabelOf } from '../eval/toxicity-scorers';
import type { ModelManifest } from '../storage/manifest';
import { requestPersistence } from '../storage/quota';
import type { ProgressFn, ShardCache } from '../storage/shard-cache';
import { completeManifest, sourceFetcher, type DownloadOptions } from './download';
import { hubLfsHashes } from './hub-hashes';
import { ensureSourceUnchanged, pinnedSource, withFingerprint } from './source-identity';
import { ModelSourceError, sourceKey, sourceLabel, type ModelSource } from './sources';

/**
 * A text-classification model (a toxicity classifier) in the shard cache, in the layout
 * transformers.js loads: `config.json` with `id2label`, the tokenizer files and an ONNX graph
 * under `onnx/`. It lives beside the language models under its own key prefix, so the planner
 * never offers it as a checkpoint to evaluate.
 */
export const CLASSIFIER_PREFIX = 'classifier:';

/** ONNX graphs in the order they are tried: the 8-bit one transformers.js runs on WASM by default, then fp32. */
const GRAPHS = [
  { file: 'onnx/model_quantized.onnx', dtype: 'q8' },
  { file: 'onnx/model.onnx', dtype: 'fp32' },
] as const;
export type ClassifierDtype = (typeof GRAPHS)[number]['dtype'];

const REQUIRED = ['config.json', 'tokenizer.json', 'tokenizer_config.json'] as const;
const OPTIONAL = ['special_tokens_map.json'] as const;

export interface CachedClassifier {
  key: string;
  label: string;
  /** `id2label` in index order. */
  labels: string[];
  /** The label whose probability is the toxicity; undefined: the highest toxic-sounding one. */
  toxicLabel?: string;
  dtype: ClassifierDtype;
  manifest: ModelManifest;
}

export function classifierKey(src: ModelSource): string {
  return `${CLASSIFIER_PREFIX}${sourceKey(src)}`;
}

export function isClassifierKey(key: string): boolean {
  return key.startsWith(CLASSIFIER_PREFIX);
}

/** What a person would type to name a cached classifier again (hub id or URL); undefined for picked files. */
export function classifierInputOf(key: string): string | undefined {
  if (!isClassifierKey(key)) return undefined;
  const src = key.slice(CLASSIFIER_PREFIX.length);
  if (src.startsWith('url:')) return src.slice('url:'.length);
  const hub = /^hf:(.+)@(.+)$/.exec(src);
  if (hub) return hub[2] === 'main' ? hub[1] : `${hub[1]}@${hub[2]}`;
  return undefined;
}

/** Whether a config.json describes a sequence classifier (so a local folder can be offered as one). */
export function isClassifierConfig(config: unknown): boolean {
  const c = config as { id2label?: unknown; architectures?: unknown } | null;
  return (
    typeof c?.id2label === 'object' &&
    c.id2label !== null &&
    Array.isArray(c.architectures) &&
    c.architectures.some((a) => typeof a === 'string' && a.endsWith('ForSequenceClassification'))
  );
}

/** `id2label` of a classifier's config.json, in index order; errors name the model. */
export function classifierLabels(configText: string, label: string): string[] {
  let config: unknown;
  try {
    config = JSON.parse(configText);
  } catch (err) {
    throw new ModelSourceError(`config.json of ${label} is not valid JSON: ${(err as Error).message}`);
  }
  const map = (config as { id2label?: unknown } | null)?.id2label;
  if (!map || typeof map !== 'object') throw new ModelSourceError(`config.json of ${label} has no id2label: it is not a classifier`);
  const entries = Object.entries(map as Record<string, unknown>);
  const labels: string[] = [];
  for (const [id, name] of entries) {
    const i = Number(id);
    if (!Number.isInteger(i) || i < 0 || i >= entries.length || typeof name !== 'string')
      throw new ModelSourceError(`config.json of ${label}: id2label must map 0…${entries.length - 1} to label names`);
    labels[i] = name;
  }
  if (labels.length < 1) throw new ModelSourceError(`config.json of ${label} has an empty id2label`);
  return labels;
}

/**
 * Brings a classifier into the cache (config first: a config without `id2label`, or without a
 * label that means toxic, is refused before anything else moves), then its tokenizer and one
 * ONNX graph. A classifier already complete is compared with its source (`source-identity.ts`)
 * and returned without downloading anything again.
 */
export async function downloadClassifier(cache: ShardCache, source: ModelSource, opts: DownloadOptions = {}): Promise<CachedClassifier> {
  const src = await withFingerprint(source);
  const key = classifierKey(src);
  const label = sourceLabel(src);
  const existing = await cache.manifest(key);
  const fetchFn = opts.fetch ?? ((input, init) => globalThis.fetch(input, init));
  if (existing?.status === 'complete') {
    await ensureSourceUnchanged(existing, src, fetchFn);
    for (const f of Object.values(existing.files))
      opts.onProgress?.({ model: key, file: f.name, loaded: f.storedBytes, total: f.size, phase: 'cached' });
    return openCachedClassifier(cache, key);
  }
  void requestPersistence();
  const { fetchFrom, record } = await pinnedSource(src, existing, fetchFn);
  await cache.openModel(key, label, record);
  try {
    // The hub's LFS hashes: the ONNX graph is checked against its SHA-256 before it counts as stored.
    const lfsHashes = await hubLfsHashes(fetchFrom, opts.signal);
    const fetchFile = classifierFetcher(cache, fetchFrom, key, lfsHashes, opts.onProgress, opts.signal);
    await fetchFile('config.json', false);
    const labels = classifierLabels(await cache.readText(key, 'config.json'), label);
    toxicLabelOf(labels);
    for (const f of REQUIRED) if (f !== 'config.json') await fetchFile(f, false);
    for (const f of OPTIONAL) await fetchFile(f, true);
    let graph = false;
    for (const g of GRAPHS) if (!graph) graph = await fetchFile(g.file, true);
    if (!graph)
      throw new ModelSourceError(
        `${label} has no ONNX graph (${GRAPHS.map((g) => g.file).join(' or ')}): transformers.js runs a classifier from its ONNX export`,
      );
    await cache.setStatus(key, 'complete');
    return openCachedClassifier(cache, key);
  } catch (err) {
    await cache.setStatus(key, 'partial', (err as Error).message).catch(() => undefined);
    throw err;
  }
}

/** A complete classifier from the cache, with its labels read and its graph's precision known. */
export async function openCachedClassifier(cache: ShardCache, key: string): Promise<CachedClassifier> {
  const manifest = await completeManifest(cache, key);
  const labels = classifierLabels(await cache.readText(key, 'config.json'), manifest.label);
  const graph = GRAPHS.find((g) => manifest.files[g.file]?.complete);
  if (!graph) throw new ModelSourceError(`${manifest.label} has no ONNX graph in the cache`);
  const toxicLabel = toxicLabelOf(labels);
  return { key, label: manifest.label, labels, ...(toxicLabel !== undefined ? { toxicLabel } : {}), dtype: graph.dtype, manifest };
}

function classifierFetcher(
  cache: ShardCache,
  src: ModelSource,
  key: string,
  lfsHashes: Map<string, string>,
  onProgress?: ProgressFn,
  signal?: AbortSignal,
) {
  return sourceFetcher(cache, src, key, { onProgress, signal }, lfsHashes, {
    picked: (file) => new ModelSourceError(`${file} is missing from the chosen classifier files`),
    notFound: (file, url) =>
      new ModelSourceError(`${file} was not found at ${url} (HTTP 404); a text-classification model needs ${REQUIRED.join(', ')}`),
  });
}
