import type { ModelSpec } from './spec';
import { expectedTensors } from './weights';
import { seededRandom } from '../util/rng';

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
