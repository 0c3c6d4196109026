import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

/**
 * ORT reads its thread count when its first session starts, so the first `fixOrtThreads` of a
 * scope decides and later ones change nothing. Each test takes a fresh copy of the module in a
 * scope made to look cross-origin isolated on two cores.
 */
describe('ORT thread count per scope', () => {
  const scope = globalThis as { crossOriginIsolated?: boolean };
  let was: boolean | undefined;
  beforeEach(() => {
    was = scope.crossOriginIsolated;
    scope.crossOriginIsolated = true;
    vi.stubGlobal('navigator', { ...globalThis.navigator, hardwareConcurrency: 2 });
    vi.resetModules();
  });
  afterEach(() => {
    scope.crossOriginIsolated = was;
    vi.unstubAllGlobals();
  });

  it('takes every core at the first session, and an explicit count given before it stays', async () => {
    const ortEnv = await import('../../../src/lib/infer/ort-env');
    ortEnv.configureOrt();
    expect(ortEnv.ortWasmThreading()).toMatchObject({ isolated: true, cores: 2, threads: 2 });
    ortEnv.fixOrtThreads();
    expect(ortEnv.ortWasmThreading().threads).toBe(2);

    vi.resetModules();
    const explicit = await import('../../../src/lib/infer/ort-env');
    explicit.configureOrt({ threads: 1 });
    explicit.fixOrtThreads();
    expect(explicit.ortWasmThreading().threads).toBe(1);
    // Later requests change nothing, as ORT would not.
    explicit.configureOrt({ threads: 2 });
    expect(explicit.ortWasmThreading().threads).toBe(1);
  });
});
