import type { LoadedLm } from '../infer/causal-lm';
import {
  concatRows,
  divergenceFromLogits,
  heldOutWindows,
  mean,
  REFERENCE_TOP_K,
  referenceFromLogits,
  type ReferenceRows,
} from '../infer/fidelity';
import { forwardLogits } from '../infer/scoring';
import { HELDOUT_LABEL, HELDOUT_TEXT, type HeldOutText } from './heldout-text';
import type { FidelityToDense } from './types';

export type { HeldOutText };

export const BUILTIN_HELDOUT: HeldOutText = { text: HELDOUT_TEXT, label: HELDOUT_LABEL };

/** Dense's distributions on a run's held-out text, stored with the run so a resume reuses them. */
export interface StoredReference {
  label: string;
  vocab: number;
  /** The token windows every variant is scored on, exactly as dense was. */
  windows: number[][];
  rows: ReferenceRows;
}

export type FidelityProgress = (done: number, total: number) => void;

/** Dense's reference: one forward per window of the held-out text. */
export async function denseReference(
  lm: LoadedLm,
  heldOut: HeldOutText,
  onProgress: FidelityProgress = () => {},
  signal?: AbortSignal,
): Promise<StoredReference> {
  const vocab = lm.spec.vocabSize;
  const windows = heldOutWindows(lm.tokenizer.encode(heldOut.text), lm.spec.maxPositions, vocab);
  const parts: ReferenceRows[] = [];
  onProgress(0, windows.length);
  for (const [i, w] of windows.entries()) {
    signal?.throwIfAborted();
    parts.push(referenceFromLogits(await forwardLogits(lm, w), vocab, w.slice(1), REFERENCE_TOP_K));
    onProgress(i + 1, windows.length);
  }
  return { label: heldOut.label, vocab, windows, rows: concatRows(parts) };
}

/** Dense against itself: no divergence, and its own perplexity. */
export function denseFidelity(ref: StoredReference): FidelityToDense {
  return { kl: 0, ppl: Math.exp(mean(ref.rows.nll)), tokens: ref.rows.nll.length, topK: ref.rows.topK, text: ref.label };
}

/** A variant's mean KL to dense and its perplexity, on the reference's windows. */
export async function variantFidelity(
  lm: LoadedLm,
  ref: StoredReference,
  onProgress: FidelityProgress = () => {},
  signal?: AbortSignal,
): Promise<FidelityToDense> {
  if (lm.spec.vocabSize !== ref.vocab) throw new Error(`${lm.label} has ${lm.spec.vocabSize} tokens, dense ${ref.vocab}`);
  const n = ref.rows.nll.length;
  const kl = new Float64Array(n);
  const nll = new Float64Array(n);
  let at = 0;
  onProgress(0, ref.windows.length);
  for (const [i, w] of ref.windows.entries()) {
    signal?.throwIfAborted();
    const d = divergenceFromLogits(ref.rows, await forwardLogits(lm, w), ref.vocab, w.slice(1), at);
    kl.set(d.kl, at);
    nll.set(d.nll, at);
    at += d.kl.length;
    onProgress(i + 1, ref.windows.length);
  }
  return { kl: mean(kl), ppl: Math.exp(mean(nll)), tokens: n, topK: ref.rows.topK, text: ref.label };
}
