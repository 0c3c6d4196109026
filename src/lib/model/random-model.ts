import type { ModelSpec } from './spec';
import { expectedTensors } from './weights';

/** mulberry32: small, fast, and the same sequence everywhere for a seed. */
export function seededRandom(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Deterministic weights in a checkpoint's shape, for benchmarks and tests at realistic sizes
 * when real weights cannot be downloaded: roughly normal values scaled like an initialised
 * network (std ≈ 1/sqrt(fan-in)), norms at one.
 */
export function randomWeights(spec: ModelSpec, seed = 1): Map<string, Float32Array> {
  const next = seededRandom(seed);
  const out = new Map<string, Float32Array>();
  for (const [name, shape] of expectedTensors(spec)) {
    const n = shape.reduce((a, b) => a * b, 1);
    const v = new Float32Array(n);
    if (name.endsWith('norm.weight')) v.fill(1);
    else {
      // Sum of three uniforms: cheap, bell-shaped, variance 1/4.
      const std = 1 / Math.sqrt(shape[shape.length - 1]);
      for (let i = 0; i < n; i++) v[i] = (next() + next() + next() - 1.5) * 2 * std;
    }
    out.set(name, v);
  }
  return out;
}
