import type { CalibrationSet } from './calibration';

/**
 * Self-generated calibration sets, kept while their cache object lives. A run compresses every
 * variant of a base model from the same samples, and writing them means the dense model
 * generating thousands of tokens: without this, each variant of a run wrote them again. A set is keyed by what decides its tokens (the base model as downloaded, the
 * size, the seed, the device that generated it), so a re-downloaded model writes its own.
 */
const KEPT_SETS = 8;

const memos = new WeakMap<object, Map<string, Promise<CalibrationSet>>>();

/** The key of a self-generated set: `downloadedAt` tells a re-downloaded model from the copy before. */
export function selfCalibrationKey(
  model: string,
  downloadedAt: number,
  samples: number,
  seqLen: number,
  seed: number,
  device: string,
): string {
  return JSON.stringify([model, downloadedAt, samples, seqLen, seed, device]);
}

/**
 * `make()`'s set, written once per `owner` and `key`; later calls (and calls while it is being
 * written) get a copy of it with `reused` set. A failed or cancelled `make` is not kept.
 */
export async function memoizedCalibration(
  owner: object,
  key: string,
  make: () => Promise<CalibrationSet>,
): Promise<{ set: CalibrationSet; reused: boolean }> {
  let memo = memos.get(owner);
  if (!memo) memos.set(owner, (memo = new Map()));
  const kept = memo.get(key);
  if (kept) {
    // Most recently used last, so the oldest goes first.
    memo.delete(key);
    memo.set(key, kept);
    const set = await kept;
    return { set: { ...set, ids: set.ids.map((s) => s.slice()), notes: [...set.notes] }, reused: true };
  }
  const made = make();
  memo.set(key, made);
  while (memo.size > KEPT_SETS) memo.delete(memo.keys().next().value!);
  try {
    const set = await made;
    return { set: { ...set, ids: set.ids.map((s) => s.slice()), notes: [...set.notes] }, reused: false };
  } catch (err) {
    if (memo.get(key) === made) memo.delete(key);
    throw err;
  }
}
