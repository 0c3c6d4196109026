import { describe, expect, it } from 'vitest';
import { MAX_WASM_THREADS, wasmThreading } from '../../../src/lib/infer/wasm-threads';

const scope = (isolated: boolean, cores?: number) => ({ crossOriginIsolated: isolated, navigator: { hardwareConcurrency: cores } });

describe('wasmThreading', () => {
  it('takes every core up to the cap when the scope is cross-origin isolated', () => {
    expect(wasmThreading(scope(true, 2))).toEqual({ isolated: true, cores: 2, threads: 2 });
    expect(wasmThreading(scope(true, 16)).threads).toBe(MAX_WASM_THREADS);
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
    expect(wasmThreading(scope(true, 8), Infinity).threads).toBe(8);
    expect(wasmThreading(scope(true, undefined)).threads).toBe(1);
  });
});
