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

  it('is provisional (one thread on two cores) until the first model fixes it; a later model changes nothing', async () => {
    const ortEnv = await import('../../../src/lib/infer/ort-env');
    ortEnv.configureOrt();
    expect(ortEnv.ortWasmThreading()).toMatchObject({ isolated: true, cores: 2, threads: 1 });
    ortEnv.fixOrtThreads(135e6);
    expect(ortEnv.ortWasmThreading().threads).toBe(2);
    ortEnv.fixOrtThreads(0.26e6);
    expect(ortEnv.ortWasmThreading().threads).toBe(2);
  });

  it('keeps one thread when a tiny model comes first, and an explicit count fixes it before any model', async () => {
    const tiny = await import('../../../src/lib/infer/ort-env');
    tiny.fixOrtThreads(0.26e6);
    tiny.fixOrtThreads(135e6);
    expect(tiny.ortWasmThreading().threads).toBe(1);

    vi.resetModules();
    const explicit = await import('../../../src/lib/infer/ort-env');
    explicit.configureOrt({ threads: 1 });
    explicit.fixOrtThreads(135e6);
    expect(explicit.ortWasmThreading().threads).toBe(1);
  });
});
