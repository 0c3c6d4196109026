import { describe, expect, it } from 'vitest';
import { defaultWasmThreads, MAX_WASM_THREADS, wasmThreading } from '../../../src/lib/infer/wasm-threads';

const scope = (isolated: boolean, cores?: number) => ({ crossOriginIsolated: isolated, navigator: { hardwareConcurrency: cores } });

describe('wasmThreading', () => {
  it('takes every core up to the cap when the scope is cross-origin isolated, on two cores too', () => {
    expect(wasmThreading(scope(true, 4))).toEqual({ isolated: true, cores: 4, threads: 4 });
    expect(wasmThreading(scope(true, 16)).threads).toBe(MAX_WASM_THREADS);
    expect(wasmThreading(scope(true, 2))).toEqual({ isolated: true, cores: 2, threads: 2 });
    expect(wasmThreading(scope(true, 3)).threads).toBe(3);
    expect([1, 2, 3, 4, 5, 8, 64].map((c) => defaultWasmThreads(c))).toEqual([1, 2, 3, 4, 4, 4, 4]);
  });

  it('runs on one thread without isolation, whatever is asked (no SharedArrayBuffer)', () => {
    expect(wasmThreading(scope(false, 8))).toEqual({ isolated: false, cores: 8, threads: 1 });
    expect(wasmThreading(scope(false, 2))).toEqual({ isolated: false, cores: 2, threads: 1 });
    expect(wasmThreading(scope(false, 8), 4).threads).toBe(1);
    expect(wasmThreading({}).threads).toBe(1);
  });

  it('honours a requested count, clamped to the cores (Infinity: all of them, past the cap)', () => {
    expect(wasmThreading(scope(true, 8), 1).threads).toBe(1);
    expect(wasmThreading(scope(true, 2), 1).threads).toBe(1);
    expect(wasmThreading(scope(true, 8), 3).threads).toBe(3);
    expect(wasmThreading(scope(true, 2), 6).threads).toBe(2);
    expect(wasmThreading(scope(true, 2), Infinity).threads).toBe(2);
    expect(wasmThreading(scope(true, 8), Infinity).threads).toBe(8);
    expect(wasmThreading(scope(true, undefined)).threads).toBe(1);
  });
});
