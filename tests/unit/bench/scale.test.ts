import { describe, expect, it } from 'vitest';
import { loadPhases, statusClock } from '../../../src/lib/bench/scale';
import { scaleTable, syntheticPrompt } from '../../../bin/lib/bench-scale.mjs';
import { browserMemory, processMemory } from '../../../bin/lib/proc-memory.mjs';

describe('bench scale helpers', () => {
  it('splits a first load into graph build and session start, and a cached one into session start only', () => {
    const first = [
      { message: 'building the ONNX graph', atMs: 5 },
      { message: 'starting a wasm session (fp32 weights)', atMs: 105 },
    ];
    expect(loadPhases(first, 130)).toEqual({ buildMs: 100, sessionMs: 25, loadMs: 130 });
    expect(loadPhases([{ message: 'starting a webgpu session', atMs: 40 }], 50)).toEqual({ buildMs: null, sessionMs: 10, loadMs: 50 });
    // Under `auto` a failed WebGPU start is followed by WASM's: the session that ran counts.
    const fallback = [...first, { message: 'starting a wasm session', atMs: 120 }];
    expect(loadPhases(fallback, 130).sessionMs).toBe(10);
    expect(() => loadPhases([{ message: 'building the ONNX graph', atMs: 0 }], 9)).toThrow(/no "starting a … session" status/);
  });

  it('times marks from its own start', () => {
    let t = 1000;
    const clock = statusClock(() => t);
    t = 1010;
    clock.mark('building the ONNX graph');
    t = 1050;
    clock.mark('starting a wasm session');
    t = 1060;
    expect(clock.phases()).toEqual({ buildMs: 40, sessionMs: 10, loadMs: 60 });
  });

  it('writes prompts of the requested number of words', () => {
    expect(syntheticPrompt(4).split(' ')).toHaveLength(4);
    expect(syntheticPrompt(64).split(' ')).toHaveLength(64);
  });

  it('reads this process’s memory from /proc and finds no browser for an unused profile', () => {
    const own = processMemory(process.pid);
    expect(own?.bytes).toBeGreaterThan(1e6);
    expect(browserMemory('/nonexistent/ctlab-profile')).toMatchObject({ bytes: 0, processes: 0 });
  });

  it('prints one line per shape and device, and the errors under the table', () => {
    const table = scaleTable({
      benchmark: 'scale',
      weights: 'random',
      devices: ['wasm', 'webgpu'],
      promptTokens: 64,
      newTokens: 16,
      memory: 'PSS of every process of the browser, sampled every 250 ms',
      shapes: [
        {
          model: 'org/a',
          layers: 30,
          params: 134_515_008,
          fp32Bytes: 538_060_032,
          downloadSeconds: 3.21,
          buildSeconds: 12.5,
          peakBytes: 2e9,
          devices: [
            {
              device: 'wasm',
              loadSeconds: 20.04,
              prefillTokensPerSecond: 150.2,
              decodeTokensPerSecond: 30.25,
              idleBytes: 3.4e8,
              peakBytes: 2e9,
              peakGeneratingBytes: 1.2e9,
              peakGeneratingRatio: 2.23,
              modelGeneratingRatio: 1.6,
            },
            { device: 'webgpu', error: 'WebGPU was requested but is unavailable: no adapter', peakBytes: 3e8 },
          ],
        },
      ],
    });
    const lines = table.split('\n');
    const wasm = lines.find((l) => l.startsWith('org/a'));
    expect(wasm).toMatch(/org\/a\s+30\s+135M\s+538\s+3\.2\s+12\.5\s+wasm\s+20\.0\s+150\.2\s+30\.25\s+340\s+2000\s+1200\s+2\.23\s+1\.60$/);
    expect(lines.find((l) => /^\s+webgpu/.test(l))).toMatch(/webgpu\s+–\s+–\s+–\s+–\s+300\s+–\s+–\s+–$/);
    expect(table).toContain('errors:\n  org/a on webgpu: WebGPU was requested but is unavailable: no adapter');
  });
});
