import { describe, expect, it } from 'vitest';
import { macsPerToken } from '../../../src/lib/infer/batch-size';
import {
  defaultWasmThreads,
  largeModelThreads,
  MAX_WASM_THREADS,
  MIN_CORES_FOR_THREADS,
  THREADS_MIN_MACS,
  wasmThreading,
} from '../../../src/lib/infer/wasm-threads';
import { parseModelSpec } from '../../../src/lib/model/config';
import { smollm2Config } from '../../../src/lib/bench/decode';
import { readFileSync } from 'node:fs';
import { STORIES_DIR } from '../model/helpers';

const scope = (isolated: boolean, cores?: number) => ({ crossOriginIsolated: isolated, navigator: { hardwareConcurrency: cores } });

describe('wasmThreading', () => {
  it('takes every core up to the cap when the scope is cross-origin isolated and has enough cores', () => {
    expect(MIN_CORES_FOR_THREADS).toBe(4);
    expect(wasmThreading(scope(true, 4))).toEqual({ isolated: true, cores: 4, threads: 4 });
    expect(wasmThreading(scope(true, 16)).threads).toBe(MAX_WASM_THREADS);
  });

  it('stays on one thread below four cores for a model of unknown or tiny size, where a second thread measured slower', () => {
    expect(wasmThreading(scope(true, 2))).toEqual({ isolated: true, cores: 2, threads: 1 });
    expect(wasmThreading(scope(true, 3)).threads).toBe(1);
    expect([1, 2, 3, 4, 5, 8, 64].map((c) => defaultWasmThreads(c))).toEqual([1, 1, 1, 4, 4, 4, 4]);
    expect(wasmThreading(scope(true, 2), undefined, THREADS_MIN_MACS - 1).threads).toBe(1);
  });

  it('gives a model of real size every core below four cores too (its long prefill measured 1.35–2.08× faster on two)', () => {
    expect(wasmThreading(scope(true, 2), undefined, THREADS_MIN_MACS)).toEqual({ isolated: true, cores: 2, threads: 2 });
    expect(wasmThreading(scope(true, 3), undefined, 1e9).threads).toBe(3);
    expect(wasmThreading(scope(true, 1), undefined, 1e9).threads).toBe(1);
    expect(wasmThreading(scope(false, 2), undefined, 1e9).threads).toBe(1);
    // An explicit count still wins.
    expect(wasmThreading(scope(true, 2), 1, 1e9).threads).toBe(1);
    expect(largeModelThreads({ isolated: true, cores: 2, threads: 1 })).toBe(2);
    expect(largeModelThreads({ isolated: false, cores: 2, threads: 1 })).toBe(1);
    expect(largeModelThreads({ isolated: true, cores: 8, threads: 4 })).toBe(4);
  });

  it('puts the line between stories260k and the benchmarked SmolLM2-135M shapes', () => {
    const stories = parseModelSpec(JSON.parse(readFileSync(`${STORIES_DIR}/config.json`, 'utf8')));
    expect(macsPerToken(stories)).toBeLessThan(THREADS_MIN_MACS);
    expect(macsPerToken(parseModelSpec(smollm2Config(1)))).toBeGreaterThanOrEqual(THREADS_MIN_MACS);
    expect(macsPerToken(parseModelSpec(smollm2Config(30)))).toBeGreaterThanOrEqual(THREADS_MIN_MACS);
  });

  it('runs on one thread without isolation, whatever is asked (no SharedArrayBuffer)', () => {
    expect(wasmThreading(scope(false, 8))).toEqual({ isolated: false, cores: 8, threads: 1 });
    expect(wasmThreading(scope(false, 8), 4).threads).toBe(1);
    expect(wasmThreading({}).threads).toBe(1);
  });

  it('honours a requested count, clamped to the cores (Infinity: all of them, past the cap)', () => {
    expect(wasmThreading(scope(true, 8), 1).threads).toBe(1);
    expect(wasmThreading(scope(true, 8), 3).threads).toBe(3);
    expect(wasmThreading(scope(true, 2), 6).threads).toBe(2);
    expect(wasmThreading(scope(true, 2), Infinity).threads).toBe(2);
    expect(wasmThreading(scope(true, 8), Infinity).threads).toBe(8);
    expect(wasmThreading(scope(true, undefined)).threads).toBe(1);
  });
});
