import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { compileCpuKernels, moduleText, TARGET } from '../../../scripts/build-wasm.mjs';

describe('the WebAssembly SIMD kernels module', () => {
  // One compilation (a second or two of binaryen) serves both checks.
  let bytes: Uint8Array;
  let sharedBytes: Uint8Array;
  beforeAll(async () => {
    bytes = await compileCpuKernels();
    sharedBytes = await compileCpuKernels(true);
  }, 60_000);

  it('is what the AssemblyScript source compiles to now (npm run build:wasm was run after every edit)', () => {
    expect(readFileSync(TARGET, 'utf8')).toBe(moduleText(bytes, sharedBytes));
  });

  it('needs no imports and exports the fourteen kernels and its memory', () => {
    const module = new WebAssembly.Module(new Uint8Array(bytes));
    expect(WebAssembly.Module.imports(module)).toEqual([]);
    expect(
      WebAssembly.Module.exports(module)
        .map((e) => e.name)
        .sort(),
    ).toEqual([
      'cholesky',
      'clampRows',
      'clipErrors',
      'gram',
      'interleave4',
      'invertLower',
      'linear',
      'linear32',
      'memory',
      'quantizeRtn',
      'scaleColumns',
      'scaledQuantize',
      'squaredErrorSums',
      'subtractEach',
      'subtractSum',
    ]);
  });

  it('has a variant on an imported shared memory that exports the same kernels', () => {
    const module = new WebAssembly.Module(new Uint8Array(sharedBytes));
    expect(WebAssembly.Module.imports(module)).toEqual([{ module: 'env', name: 'memory', kind: 'memory' }]);
    const names = (m: WebAssembly.Module) =>
      WebAssembly.Module.exports(m)
        .map((e) => e.name)
        .sort();
    expect(names(module)).toEqual(names(new WebAssembly.Module(new Uint8Array(bytes))));
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 65536, shared: true });
    expect(new WebAssembly.Instance(module, { env: { memory } }).exports.memory).toBe(memory);
  });
});
