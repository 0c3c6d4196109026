import { expect, it } from 'vitest';
import { MAX_WASM_THREADS, wasmThreading } from '../../../src/lib/infer/wasm-threads';

it('the browser-test server isolates its pages too, so ORT in the tests runs on the threads the app gets', () => {
  expect(crossOriginIsolated).toBe(true);
  expect(typeof SharedArrayBuffer).toBe('function');
  expect(wasmThreading().threads).toBe(Math.min(MAX_WASM_THREADS, navigator.hardwareConcurrency));
});
