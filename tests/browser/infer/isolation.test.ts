import { expect, it } from 'vitest';
import { defaultWasmThreads, wasmThreading } from '../../../src/lib/infer/wasm-threads';

it('the browser-test server isolates its pages too, so ORT in the tests runs on the threads the app gets', () => {
  expect(crossOriginIsolated).toBe(true);
  expect(typeof SharedArrayBuffer).toBe('function');
  expect(wasmThreading().threads).toBe(defaultWasmThreads(navigator.hardwareConcurrency));
});
