/**
 * Seeded, deterministic subsets. Every random choice of the engine (which items, which few-shot
 * demonstrations, which fake PII, the fairness coin flip) derives from the run seed and a salt that
 * names the choice, through pure-rand's xoroshiro128+; the same seed gives the same subset on every
 * machine, and choices with different salts are independent.
 */
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import { uniformInt } from 'pure-rand/distribution/uniformInt';
import type { RandomGenerator } from 'pure-rand/types/RandomGenerator';
import { resolveCount, type Count } from './presets';

export type { RandomGenerator };

/** 32-bit FNV-1a of a string's UTF-16 code units. */
export function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** A generator for one named choice of a run. */
export function makeRng(seed: number, salt = ''): RandomGenerator {
  return xoroshiro128plus((hashString(`${salt}`) ^ Math.imul(seed | 0, 0x9e3779b1)) | 0);
}

export function randomInt(rng: RandomGenerator, min: number, max: number): number {
  return uniformInt(rng, min, max);
}

/** `k` distinct indices of `0..n-1`, ascending (so a subset keeps file order). */
export function sampleIndices(n: number, k: number, seed: number, salt = ''): number[] {
  k = Math.max(0, Math.min(k, n));
  if (k === n) return Array.from({ length: n }, (_, i) => i);
  const rng = makeRng(seed, salt);
  // Partial Fisher–Yates over a sparse permutation: O(k) memory.
  const swapped = new Map<number, number>();
  const out: number[] = [];
  for (let i = 0; i < k; i++) {
    const j = uniformInt(rng, i, n - 1);
    const vj = swapped.get(j) ?? j;
    const vi = swapped.get(i) ?? i;
    swapped.set(j, vi);
    out.push(vj);
  }
  return out.sort((a, b) => a - b);
}

/** A seeded subset of `count` elements, in their original order. */
export function sample<T>(items: readonly T[], count: Count, seed: number, salt = ''): T[] {
  const k = resolveCount(count, items.length);
  return sampleIndices(items.length, k, seed, salt).map((i) => items[i]);
}

/** A seeded permutation. */
export function shuffle<T>(items: readonly T[], seed: number, salt = ''): T[] {
  const rng = makeRng(seed, salt);
  const out = items.slice();
  for (let i = out.length - 1; i > 0; i--) {
    const j = uniformInt(rng, 0, i);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

/** Groups in order of first appearance. */
export function groupBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const g = groups.get(k);
    if (g) g.push(item);
    else groups.set(k, [item]);
  }
  return groups;
}

/** `count` items from every stratum (salted by the stratum, so strata are independent). */
export function stratifiedSample<T>(items: readonly T[], stratum: (item: T) => string, count: Count, seed: number, salt = ''): T[] {
  const out: T[] = [];
  for (const [key, group] of groupBy(items, stratum)) out.push(...sample(group, count, seed, `${salt}/${key}`));
  return out;
}

/** A fair seeded coin. */
export function coinFlip(seed: number, salt: string): boolean {
  return uniformInt(makeRng(seed, salt), 0, 1) === 1;
}

export function randomString(rng: RandomGenerator, length: number, alphabet: string): string {
  let s = '';
  for (let i = 0; i < length; i++) s += alphabet[uniformInt(rng, 0, alphabet.length - 1)];
  return s;
}
