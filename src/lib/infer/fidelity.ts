import { logSoftmax } from './scoring';

/**
 * Fidelity to dense without holding both models at once: dense's next-token distribution at each
 * position of the held-out text is kept as its K likeliest tokens plus one bucket for the rest.
 * A variant's KL is then taken over those K + 1 outcomes. Merging outcomes never increases a KL
 * (data-processing inequality), so this is a lower bound on the full KL, and exact when K is the
 * whole vocabulary. The K tokens hold nearly all of dense's mass on a trained model, so the bound is
 * tight where it matters.
 */

/** Tokens a reference keeps per position. */
export const REFERENCE_TOP_K = 256;

/** Most tokens of a held-out text that are used (BOS included): one window on a 512-token model. */
export const MAX_HELDOUT_TOKENS = 512;

/** Logit floats one forward may return (64 MiB): large vocabularies get shorter windows. */
const LOGITS_BUDGET = 1 << 24;

/** Dense's distributions at a run of positions. */
export interface ReferenceRows {
  topK: number;
  /** Token ids, `topK` per position, likeliest first. */
  topIds: Int32Array;
  /** Natural-log probability of each of `topIds`. */
  topLogProbs: Float64Array;
  /** log of the mass outside the top K per position; −Infinity when K is the vocabulary. */
  restLogMass: Float64Array;
  /** Negative log-probability of the token that actually came next, per position. */
  nll: Float64Array;
}

/** What a variant's distributions give against a reference, per position. */
export interface Divergence {
  kl: Float64Array;
  nll: Float64Array;
}

/** Indices of the k largest values, largest first (ties: lower index first). */
export function topKIndices(row: ArrayLike<number>, k: number): Int32Array {
  const n = row.length;
  k = Math.min(k, n);
  // A min-heap of the k best so far: O(n log k), no sort of the whole row.
  const heap = new Int32Array(k);
  let size = 0;
  const worse = (a: number, b: number) => row[a] < row[b] || (row[a] === row[b] && a > b);
  const siftDown = (i: number) => {
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < size && worse(heap[l], heap[m])) m = l;
      if (r < size && worse(heap[r], heap[m])) m = r;
      if (m === i) return;
      [heap[i], heap[m]] = [heap[m], heap[i]];
      i = m;
    }
  };
  for (let v = 0; v < n; v++) {
    if (size < k) {
      let i = size++;
      heap[i] = v;
      while (i > 0) {
        const p = (i - 1) >> 1;
        if (!worse(heap[i], heap[p])) break;
        [heap[i], heap[p]] = [heap[p], heap[i]];
        i = p;
      }
    } else if (k > 0 && worse(heap[0], v)) {
      heap[0] = v;
      siftDown(0);
    }
  }
  return Int32Array.from(heap).sort((a, b) => (worse(a, b) ? 1 : worse(b, a) ? -1 : 0));
}

/**
 * Dense's reference from the logits of one forward: row t is the distribution that predicts
 * `targets[t]`. `logits` holds at least `targets.length` rows of `vocab` values.
 */
export function referenceFromLogits(logits: Float32Array, vocab: number, targets: ArrayLike<number>, topK: number): ReferenceRows {
  const K = Math.min(topK, vocab);
  const n = targets.length;
  const rows: ReferenceRows = {
    topK: K,
    topIds: new Int32Array(n * K),
    topLogProbs: new Float64Array(n * K),
    restLogMass: new Float64Array(n),
    nll: new Float64Array(n),
  };
  const kept = new Uint8Array(vocab);
  for (let t = 0; t < n; t++) {
    const p = logSoftmax(logits.subarray(t * vocab, (t + 1) * vocab));
    const ids = topKIndices(p, K);
    rows.topIds.set(ids, t * K);
    kept.fill(0);
    for (let j = 0; j < K; j++) {
      rows.topLogProbs[t * K + j] = p[ids[j]];
      kept[ids[j]] = 1;
    }
    rows.restLogMass[t] = Math.log(restMass(p, kept));
    rows.nll[t] = -p[targets[t]];
  }
  return rows;
}

/**
 * KL(dense ‖ variant) over the reference's K + 1 outcomes and the variant's NLL, per position;
 * row t of `logits` is compared with the reference's position `offset + t`.
 */
export function divergenceFromLogits(
  ref: ReferenceRows,
  logits: Float32Array,
  vocab: number,
  targets: ArrayLike<number>,
  offset = 0,
): Divergence {
  const n = targets.length;
  if (offset + n > ref.restLogMass.length) {
    throw new Error(`the reference has ${ref.restLogMass.length} positions, the variant reaches ${offset + n}`);
  }
  const K = ref.topK;
  const out: Divergence = { kl: new Float64Array(n), nll: new Float64Array(n) };
  const kept = new Uint8Array(vocab);
  for (let t = 0; t < n; t++) {
    const q = logSoftmax(logits.subarray(t * vocab, (t + 1) * vocab));
    const at = offset + t;
    kept.fill(0);
    let d = 0;
    for (let j = 0; j < K; j++) {
      const id = ref.topIds[at * K + j];
      const lp = ref.topLogProbs[at * K + j];
      kept[id] = 1;
      d += Math.exp(lp) * (lp - q[id]);
    }
    const lpRest = ref.restLogMass[at];
    // An empty bucket contributes nothing (0 · log 0 = 0), whatever the variant puts there.
    if (lpRest > -Infinity) d += Math.exp(lpRest) * (lpRest - Math.log(restMass(q, kept)));
    out.kl[t] = d;
    out.nll[t] = -q[targets[t]];
  }
  return out;
}

/** Probability mass of the tokens not kept, summed directly (1 − Σ kept loses it to rounding). */
function restMass(logProbs: Float64Array, kept: Uint8Array): number {
  let rest = 0;
  for (let v = 0; v < logProbs.length; v++) if (!kept[v]) rest += Math.exp(logProbs[v]);
  return rest;
}

/** Joins the rows of consecutive windows into one reference. */
export function concatRows(parts: readonly ReferenceRows[]): ReferenceRows {
  return {
    topK: parts[0]?.topK ?? 0,
    topIds: joined(
      parts.map((r) => r.topIds),
      Int32Array,
    ),
    topLogProbs: joined(
      parts.map((r) => r.topLogProbs),
      Float64Array,
    ),
    restLogMass: joined(
      parts.map((r) => r.restLogMass),
      Float64Array,
    ),
    nll: joined(
      parts.map((r) => r.nll),
      Float64Array,
    ),
  };
}

function joined<T extends Int32Array | Float64Array>(arrays: readonly T[], make: new (n: number) => T): T {
  const out = new make(arrays.reduce((n, a) => n + a.length, 0));
  let at = 0;
  for (const a of arrays) {
    out.set(a, at);
    at += a.length;
  }
  return out;
}

/**
 * The token windows a held-out text is scored in: its first `MAX_HELDOUT_TOKENS` tokens, each
 * after the first predicted exactly once. A window is the model's context, shortened for large
 * vocabularies so one forward's logits stay within budget; a window after the first starts where
 * the previous one ended, without the earlier context (the same for dense and every variant).
 */
export function heldOutWindows(ids: readonly number[], maxPositions: number, vocab: number): number[][] {
  const capped = ids.slice(0, MAX_HELDOUT_TOKENS);
  if (capped.length < 2) throw new Error('the held-out text needs at least two tokens');
  const length = Math.max(2, Math.min(maxPositions, Math.max(64, Math.floor(LOGITS_BUDGET / vocab))));
  const windows: number[][] = [];
  for (let start = 0; start < capped.length - 1; start += length - 1) windows.push(capped.slice(start, start + length));
  return windows;
}

export function mean(xs: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < xs.length; i++) s += xs[i];
  return s / xs.length;
}
