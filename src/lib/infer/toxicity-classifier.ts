import { pipeline } from '@huggingface/transformers';
import { classifierScorer, type TextClassificationFn } from '../eval/toxicity-scorers';
import type { ToxicityScorer } from '../eval/types';
import { downloadClassifier, openCachedClassifier, type CachedClassifier } from '../model/classifier';
import type { DownloadOptions } from '../model/download';
import type { ModelSource } from '../model/sources';
import type { ShardCache } from '../storage/shard-cache';
import { transformersIdFor } from '../storage/transformers-cache';
import { fixOrtThreads } from './ort-env';

export interface LoadedClassifier {
  classifier: CachedClassifier;
  /** Every score it gives names the classifier (`classifier (org/name)`). */
  scorer: ToxicityScorer;
  dispose(): Promise<void>;
}

/**
 * A cached text-classification model as a toxicity scorer: transformers.js's
 * `pipeline('text-classification', …)` reading every file from the shard cache (never the
 * network), on WASM, since a classifier is small and its numbers should not depend on the GPU.
 */
export async function loadToxicityClassifier(cache: ShardCache, key: string): Promise<LoadedClassifier> {
  fixOrtThreads();
  const classifier = await openCachedClassifier(cache, key);
  let pipe: Awaited<ReturnType<typeof pipeline<'text-classification'>>>;
  try {
    pipe = await pipeline('text-classification', transformersIdFor(cache, key), { device: 'wasm', dtype: classifier.dtype });
  } catch (err) {
    throw new Error(`Could not load the toxicity classifier ${classifier.label}: ${(err as Error).message}`, { cause: err });
  }
  const run: TextClassificationFn = (texts, options) => pipe(texts, options);
  return {
    classifier,
    scorer: classifierScorer(run, { name: classifier.label, ...(classifier.toxicLabel ? { toxicLabel: classifier.toxicLabel } : {}) }),
    dispose: () => pipe.dispose(),
  };
}

/** Downloads (or finds) a classifier and loads it. */
export async function toxicityClassifierFrom(cache: ShardCache, src: ModelSource, opts: DownloadOptions = {}): Promise<LoadedClassifier> {
  const cached = await downloadClassifier(cache, src, opts);
  return loadToxicityClassifier(cache, cached.key);
}
