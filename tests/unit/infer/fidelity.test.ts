import { describe, expect, it } from 'vitest';
import {
  concatRows,
  divergenceFromLogits,
  heldOutWindows,
  MAX_HELDOUT_TOKENS,
  mean,
  referenceFromLogits,
  topKIndices,
} from '../../../src/lib/infer/fidelity';

/** A seeded generator, so the random distributions are the same on every run. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function randomLogits(rows: number, vocab: number, seed: number, scale = 4): Float32Array {
  const r = rng(seed);
  return Float32Array.from({ length: rows * vocab }, () => (r() - 0.5) * scale);
}

function softmax(row: ArrayLike<number>): number[] {
  const max = Math.max(...Array.from(row));
  const e = Array.from(row, (v) => Math.exp(v - max));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

/** The full KL(p ‖ q) over the whole vocabulary, row by row, straight from the definition. */
function fullKl(a: Float32Array, b: Float32Array, vocab: number): number[] {
  const out: number[] = [];
  for (let t = 0; t < a.length / vocab; t++) {
    const p = softmax(a.subarray(t * vocab, (t + 1) * vocab));
    const q = softmax(b.subarray(t * vocab, (t + 1) * vocab));
    out.push(p.reduce((d, pv, v) => d + pv * Math.log(pv / q[v]), 0));
  }
  return out;
}

describe('top-K selection', () => {
  it('returns the k largest, largest first, ties by index', () => {
    expect(Array.from(topKIndices([0.1, 5, -2, 3, 5, 4], 3))).toEqual([1, 4, 5]);
    expect(Array.from(topKIndices([1, 2], 5))).toEqual([1, 0]);
    const row = Array.from(randomLogits(1, 1000, 7));
    const sorted = row.map((v, i) => [v, i] as const).sort((x, y) => y[0] - x[0] || x[1] - y[1]);
    expect(Array.from(topKIndices(row, 50))).toEqual(sorted.slice(0, 50).map(([, i]) => i));
  });
});

describe('KL against a stored reference', () => {
  const vocab = 40;
  const rows = 6;
  const targets = [3, 1, 39, 0, 17, 22];
  const dense = randomLogits(rows, vocab, 1);
  const perturb = (by: number, seed: number) => {
    const r = rng(seed);
    return Float32Array.from(dense, (v) => v + (r() - 0.5) * by);
  };
  const variant = perturb(1.5, 2);

  it('is the exact KL and NLL when K is the whole vocabulary', () => {
    const ref = referenceFromLogits(dense, vocab, targets, 256);
    expect(ref.topK).toBe(vocab);
    expect(Array.from(ref.restLogMass).every((v) => v === -Infinity)).toBe(true);
    const d = divergenceFromLogits(ref, variant, vocab, targets);
    const full = fullKl(dense, variant, vocab);
    full.forEach((kl, t) => expect(d.kl[t]).toBeCloseTo(kl, 10));
    expect(mean(d.kl)).toBeGreaterThan(0.01);
    targets.forEach((id, t) => {
      expect(ref.nll[t]).toBeCloseTo(-Math.log(softmax(dense.subarray(t * vocab, (t + 1) * vocab))[id]), 10);
      expect(d.nll[t]).toBeCloseTo(-Math.log(softmax(variant.subarray(t * vocab, (t + 1) * vocab))[id]), 10);
    });
  });

  it('is a lower bound with a top-K bucket, equal to the KL over the K + 1 merged outcomes', () => {
    const K = 8;
    const ref = referenceFromLogits(dense, vocab, targets, K);
    const d = divergenceFromLogits(ref, variant, vocab, targets);
    const full = fullKl(dense, variant, vocab);
    for (let t = 0; t < rows; t++) {
      const p = softmax(dense.subarray(t * vocab, (t + 1) * vocab));
      const q = softmax(variant.subarray(t * vocab, (t + 1) * vocab));
      const top = Array.from(ref.topIds.subarray(t * K, (t + 1) * K));
      expect(top).toEqual(Array.from(topKIndices(p, K)));
      const pRest = 1 - top.reduce((s, id) => s + p[id], 0);
      const qRest = 1 - top.reduce((s, id) => s + q[id], 0);
      const merged = top.reduce((s, id) => s + p[id] * Math.log(p[id] / q[id]), 0) + pRest * Math.log(pRest / qRest);
      expect(Math.exp(ref.restLogMass[t])).toBeCloseTo(pRest, 12);
      expect(d.kl[t]).toBeCloseTo(merged, 10);
      expect(d.kl[t]).toBeLessThanOrEqual(full[t] + 1e-12);
      expect(d.kl[t]).toBeGreaterThan(0);
    }
  });

  it('is zero for the reference model itself and grows with the perturbation', () => {
    const ref = referenceFromLogits(dense, vocab, targets, 8);
    expect(mean(divergenceFromLogits(ref, dense, vocab, targets).kl)).toBeCloseTo(0, 12);
    const small = mean(divergenceFromLogits(ref, perturb(0.2, 3), vocab, targets).kl);
    const large = mean(divergenceFromLogits(ref, perturb(3, 3), vocab, targets).kl);
    expect(small).toBeGreaterThan(0);
    expect(large).toBeGreaterThan(small * 10);
  });

  it('joins windows into one reference in order', () => {
    const a = referenceFromLogits(dense.subarray(0, 3 * vocab), vocab, targets.slice(0, 3), 8);
    const b = referenceFromLogits(dense.subarray(3 * vocab), vocab, targets.slice(3), 8);
    const whole = referenceFromLogits(dense, vocab, targets, 8);
    const joined = concatRows([a, b]);
    expect(Array.from(joined.topIds)).toEqual(Array.from(whole.topIds));
    expect(Array.from(joined.nll)).toEqual(Array.from(whole.nll));
    expect(Array.from(joined.restLogMass)).toEqual(Array.from(whole.restLogMass));
  });

  it('compares a window with the reference positions it covers, and no further', () => {
    const ref = referenceFromLogits(dense, vocab, targets, 8);
    const whole = divergenceFromLogits(ref, variant, vocab, targets);
    const tail = divergenceFromLogits(ref, variant.subarray(4 * vocab), vocab, targets.slice(4), 4);
    expect(Array.from(tail.kl)).toEqual(Array.from(whole.kl.subarray(4)));
    expect(() => divergenceFromLogits(ref, variant.subarray(3 * vocab), vocab, targets.slice(3), 4)).toThrow(/6 positions/);
  });
});

describe('held-out windows', () => {
  const ids = Array.from({ length: 1000 }, (_, i) => i);

  it('predicts every token after the first exactly once, capped', () => {
    for (const [ctx, vocab] of [
      [512, 512],
      [2048, 49152],
      [100, 32000],
    ]) {
      const windows = heldOutWindows(ids, ctx, vocab);
      expect(windows.every((w) => w.length <= ctx)).toBe(true);
      const predicted = windows.flatMap((w) => w.slice(1));
      expect(predicted).toEqual(ids.slice(1, MAX_HELDOUT_TOKENS));
    }
  });

  it('keeps one forward’s logits bounded for a large vocabulary', () => {
    const small = heldOutWindows(ids, 2048, 512);
    const large = heldOutWindows(ids, 2048, 151_936);
    expect(small).toHaveLength(1);
    expect(large.length).toBeGreaterThan(1);
    expect(large[0].length * 151_936).toBeLessThanOrEqual(1 << 24);
  });

  it('needs two tokens', () => {
    expect(() => heldOutWindows([1], 512, 512)).toThrow(/two tokens/);
  });
});
