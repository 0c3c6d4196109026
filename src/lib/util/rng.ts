/**
 * The project's one seeded random stream: mulberry32, uniform in [0, 1). Small, fast and the
 * same sequence on every engine for a seed, so calibration text, random weights and test data
 * are reproducible; tests compare against values drawn from it, so the stream must not change.
 */
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
