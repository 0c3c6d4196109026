import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { compileCpuKernels, moduleText, TARGET } from '../../../scripts/build-wasm.mjs';

describe('the WebAssembly SIMD kernels module', () => {
  it('is what the AssemblyScript source compiles to now (npm run build:wasm was run after every edit)', async () => {
    const bytes: Uint8Array = await compileCpuKernels();
    expect(readFileSync(TARGET, 'utf8')).toBe(moduleText(bytes));
  }, 60_000);

  it('needs no imports and exports the five kernels and its memory', async () => {
    const module = new WebAssembly.Module(new Uint8Array(await compileCpuKernels()));
    expect(WebAssembly.Module.imports(module)).toEqual([]);
    expect(
      WebAssembly.Module.exports(module)
        .map((e) => e.name)
        .sort(),
    ).toEqual(['dots', 'gram', 'linear', 'memory', 'subtractEach', 'subtractSum']);
  }, 60_000);
});
