import { familyById } from './architectures';
import type { ShardCache, ProgressFn } from '../storage/shard-cache';
import type { ModelManifest } from '../storage/manifest';
import { requestPersistence } from '../storage/quota';
import { parseModelSpecText, withGenerationStops } from './config';
import type { ModelSpec } from './spec';
import { SafetensorsFile } from './safetensors';
import { WeightStore } from './weights';
import { hubLfsHashes } from './hub-hashes';
import { fileUrl, relativePath, sourceKey, sourceLabel, ModelSourceError, type ModelSource } from './sources';
import { ensureSourceUnchanged, pinnedSource, withFingerprint } from './source-identity';

/** Files a Llama-family checkpoint cannot be used without (the weights are resolved separately). */
export const REQUIRED_FILES = ['config.json', 'tokenizer.json'] as const;
const GENERATION_CONFIG = 'generation_config.json';
/**
 * Newer checkpoints keep the chat template in a file of its own (`chat_template.jinja`, or a
 * processor's `chat_template.json`) instead of `tokenizer_config.json`.
 */
export const CHAT_TEMPLATE_FILES = ['chat_template.jinja', 'chat_template.json'] as const;
export const OPTIONAL_FILES = ['tokenizer_config.json', GENERATION_CONFIG, 'special_tokens_map.json', ...CHAT_TEMPLATE_FILES] as const;
export const SINGLE_WEIGHTS = 'model.safetensors';
export const WEIGHTS_INDEX = 'model.safetensors.index.json';

export interface ShardIndex {
  metadata?: { total_size?: number };
  weight_map: Record<string, string>;
}

export interface CachedModel {
  key: string;
  label: string;
  spec: ModelSpec;
  manifest: ModelManifest;
  weightFiles: string[];
  index: ShardIndex | null;
}

export interface DownloadOptions {
  onProgress?: ProgressFn;
  signal?: AbortSignal;
  /** For the source checks (HEAD requests); the cache's own fetch does the downloads. */
  fetch?: typeof fetch;
}

export class ModelFileMissingError extends ModelSourceError {
  override name = 'ModelFileMissingError';
}

/**
 * Brings a model into the cache: config first (an unsupported architecture is refused before
 * any weights move), then tokenizer files, then the weight shards, then a header check of every
 * shard against the config. Only then is the model marked complete.
 *
 * A model already complete is compared with its source first (hub: the revision's commit;
 * URL: HEAD of every file) and refused with `SourceChangedError` when the source has other
 * content now; no file is downloaded again. Picked folders carry a content fingerprint in their
 * key. Hub downloads are pinned to the commit the revision names when they start.
 *
 * A folder's own `onnx/` graph (e.g. `onnx/ctlab-graph.json` + `model.onnx` of an exported
 * variant) is never taken: the graph is always built here from the validated safetensors.
 */
export async function downloadModel(cache: ShardCache, source: ModelSource, opts: DownloadOptions = {}): Promise<CachedModel> {
  const src = await withFingerprint(source);
  const key = sourceKey(src);
  const label = sourceLabel(src);
  const fetchFn = opts.fetch ?? ((input, init) => globalThis.fetch(input, init));
  const existing = await cache.manifest(key);
  if (existing?.status === 'complete') {
    await ensureSourceUnchanged(existing, src, fetchFn);
    for (const f of Object.values(existing.files)) {
      opts.onProgress?.({ model: key, file: f.name, loaded: f.storedBytes, total: f.size, phase: 'cached' });
    }
    return openCachedModel(cache, key);
  }
  void requestPersistence();
  const { fetchFrom, record } = await pinnedSource(src, existing, fetchFn);
  await cache.openModel(key, label, record);
  try {
    // The hub's LFS hashes, so every weight file is checked against its SHA-256 before it counts as stored.
    const lfsHashes = await hubLfsHashes(fetchFrom, opts.signal);
    const fetchFile = fileFetcher(cache, fetchFrom, key, opts, lfsHashes);
    await fetchFile('config.json', false);
    let spec = parseModelSpecText(await cache.readText(key, 'config.json'), `config.json of ${label}`);
    for (const f of REQUIRED_FILES) if (f !== 'config.json') await fetchFile(f, false);
    for (const f of OPTIONAL_FILES) await fetchFile(f, true);
    // Before the weights: a malformed generation config is refused as early as config.json is.
    spec = await withStoredGenerationStops(cache, (await cache.manifest(key))!, spec);

    const hasIndex = await fetchFile(WEIGHTS_INDEX, true);
    let index: ShardIndex | null = null;
    let weightFiles = [SINGLE_WEIGHTS];
    if (hasIndex) {
      index = parseIndex(await cache.readText(key, WEIGHTS_INDEX), label);
      weightFiles = [...new Set(Object.values(index.weight_map))].sort();
      const total = index.metadata?.total_size;
      if (total) await cache.ensureRoom(total, `the weights of ${label}`);
    }
    for (const f of weightFiles) await fetchFile(f, false);
    // A shipped `onnx/` graph is not fetched: nothing ties it to these safetensors (its weights,
    // ops and shapes could be anything), and checking it would cost as much as building it.

    await validateWeights(cache, key, spec, weightFiles, index);
    const manifest = await cache.setStatus(key, 'complete');
    return { key, label, spec, manifest, weightFiles, index };
  } catch (err) {
    await cache.setStatus(key, 'partial', (err as Error).message).catch(() => undefined);
    throw err;
  }
}

/** The manifest of a cached entry that finished downloading (a model or a classifier). */
export async function completeManifest(cache: ShardCache, key: string): Promise<ModelManifest> {
  const manifest = await cache.manifest(key);
  if (!manifest) throw new ModelSourceError(`${key} is not in the cache`);
  if (manifest.status !== 'complete')
    throw new ModelSourceError(`${manifest.label} is only partly downloaded${manifest.error ? `: ${manifest.error}` : ''}`);
  return manifest;
}

/** A complete model from the cache, with its config parsed and its weight files listed. */
export async function openCachedModel(cache: ShardCache, key: string): Promise<CachedModel> {
  const manifest = await completeManifest(cache, key);
  const spec = await withStoredGenerationStops(
    cache,
    manifest,
    parseModelSpecText(await cache.readText(key, 'config.json'), `config.json of ${manifest.label}`),
  );
  const index = manifest.files[WEIGHTS_INDEX] ? parseIndex(await cache.readText(key, WEIGHTS_INDEX), manifest.label) : null;
  const weightFiles = index ? [...new Set(Object.values(index.weight_map))].sort() : [SINGLE_WEIGHTS];
  return { key, label: manifest.label, spec, manifest, weightFiles, index };
}

/** `spec` with the stop ids of the cached `generation_config.json`, when the model has one. */
async function withStoredGenerationStops(cache: ShardCache, manifest: ModelManifest, spec: ModelSpec): Promise<ModelSpec> {
  if (!manifest.files[GENERATION_CONFIG]?.complete) return spec;
  return withGenerationStops(spec, await cache.readText(manifest.key, GENERATION_CONFIG), `${GENERATION_CONFIG} of ${manifest.label}`);
}

/** The weights of a cached model, read tensor by tensor from IndexedDB. */
export async function openWeights(cache: ShardCache, model: CachedModel): Promise<WeightStore> {
  const files = await Promise.all(model.weightFiles.map(async (name) => ({ name, source: await cache.openFile(model.key, name) })));
  return WeightStore.open(files, model.index ?? undefined, familyById(model.spec.modelType).tensorPrefixes);
}

/** How a fetcher words a file that is missing: among picked files, or at its URL (HTTP 404). */
export interface MissingFileErrors {
  picked(file: string, chosen: readonly string[]): Error;
  notFound(file: string, url: string): Error;
}

/**
 * Stores one file of `src` in the cache (a picked file, or a URL checked against the hub's
 * SHA-256 when it lists one); resolves false for an absent optional file.
 */
export function sourceFetcher(
  cache: ShardCache,
  src: ModelSource,
  key: string,
  opts: Pick<DownloadOptions, 'onProgress' | 'signal'>,
  lfsHashes: Map<string, string>,
  missing: MissingFileErrors,
) {
  const local = src.kind === 'files' ? new Map(src.files.map((f) => [relativePath(f), f])) : null;
  return async (file: string, optional: boolean): Promise<boolean> => {
    if (local) {
      const picked = local.get(file);
      if (!picked) {
        if (optional) return false;
        throw missing.picked(file, [...local.keys()]);
      }
      await cache.storeFromBlob(key, file, picked, { onProgress: opts.onProgress, signal: opts.signal });
      return true;
    }
    const url = fileUrl(src, file);
    try {
      const stored = await cache.storeFromUrl(key, file, url, {
        optional,
        onProgress: opts.onProgress,
        signal: opts.signal,
        sha256: lfsHashes.get(file),
      });
      return stored !== null;
    } catch (err) {
      if ((err as { status?: number }).status === 404 && !optional) throw missing.notFound(file, url);
      throw err;
    }
  };
}

const CHECKPOINT_MISSING: MissingFileErrors = {
  picked: (file, chosen) =>
    new ModelFileMissingError(
      `${file} is missing from the chosen files (${chosen.slice(0, 12).join(', ')}${chosen.length > 12 ? ', …' : ''}). A Hugging Face model folder needs config.json, tokenizer.json and model.safetensors (or model.safetensors.index.json with its shards).`,
    ),
  notFound: (file, url) => new ModelFileMissingError(`${file} was not found at ${url} (HTTP 404). ${missingHint(file)}`),
};

function fileFetcher(cache: ShardCache, src: ModelSource, key: string, opts: DownloadOptions, lfsHashes: Map<string, string>) {
  return sourceFetcher(cache, src, key, opts, lfsHashes, CHECKPOINT_MISSING);
}

function missingHint(file: string): string {
  if (file === 'tokenizer.json')
    return 'The model needs a fast tokenizer (tokenizer.json); checkpoints with only a SentencePiece tokenizer.model are not supported.';
  if (file === 'config.json') return 'Check the model id, revision or base URL: every Hugging Face model folder has a config.json.';
  if (file === SINGLE_WEIGHTS)
    return 'The model needs safetensors weights (model.safetensors or model.safetensors.index.json with shards); PyTorch .bin checkpoints are not supported.';
  return '';
}

function parseIndex(text: string, label: string): ShardIndex {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ModelSourceError(`${WEIGHTS_INDEX} of ${label} is not valid JSON: ${(err as Error).message}`);
  }
  const map = (json as ShardIndex | null)?.weight_map;
  if (
    !map ||
    typeof map !== 'object' ||
    Object.values(map).some((v) => typeof v !== 'string' || !v.endsWith('.safetensors') || v.includes('..'))
  ) {
    throw new ModelSourceError(`${WEIGHTS_INDEX} of ${label} has no valid weight_map of tensor names to .safetensors shard files`);
  }
  return json as ShardIndex;
}

/** Header-level checks of every shard; a shard that fails is dropped so a retry fetches it afresh. */
async function validateWeights(cache: ShardCache, key: string, spec: ModelSpec, files: string[], index: ShardIndex | null): Promise<void> {
  const opened: { name: string; source: Awaited<ReturnType<ShardCache['openFile']>> }[] = [];
  for (const name of files) {
    const source = await cache.openFile(key, name);
    try {
      await SafetensorsFile.open(source);
    } catch (err) {
      await cache.forgetFile(key, name);
      throw err;
    }
    opened.push({ name, source });
  }
  const store = await WeightStore.open(opened, index ?? undefined, familyById(spec.modelType).tensorPrefixes);
  await store.validateAgainst(spec);
}
