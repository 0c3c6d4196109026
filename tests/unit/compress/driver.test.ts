import { describe, expect, it } from 'vitest';
import { TYPESCRIPT_KERNELS } from '../../../src/lib/compress/engine/backend';
import { createBlockRunner } from '../../../src/lib/compress/engine/block-runner';
import { compressLayers } from '../../../src/lib/compress/engine/driver';
import type { BlockRunner } from '../../../src/lib/compress/engine/runner-types';
import { NonFiniteError } from '../../../src/lib/compress/engine/finite';
import { mapSource } from '../../../src/lib/compress/engine/layer-source';
import type { LayerOutput, LayerTiming } from '../../../src/lib/compress/engine/report';
import { resolveSettings, type CompressSettings } from '../../../src/lib/compress/reference/settings';
import { tinyCalibration, tinySpec, tinyWeights } from './tiny-model';

const spec = tinySpec();
const weights = tinyWeights(spec);
const calibration = tinyCalibration(spec, 6, 24);

async function run(settings: CompressSettings, extra: Partial<Parameters<typeof compressLayers>[0]> = {}) {
  const outs: LayerOutput[] = [];
  const result = await compressLayers({
    spec,
    source: mapSource(weights),
    calibration,
    settings: resolveSettings(settings),
    onLayer: (o) => void outs.push(o),
    ...extra,
  });
  return { result, outs };
}

const meanError = (r: Awaited<ReturnType<typeof run>>['result']) => r.linears.reduce((s, l) => s + l.error, 0) / r.linears.length;

describe('calibration driver (TypeScript kernels and forward)', () => {
  it.each<CompressSettings>([
    { method: 'rtn', bits: 4, groupSize: 16 },
    { method: 'gptq', bits: 3, groupSize: 16 },
    { method: 'gptq', bits: 4, groupSize: 16, actOrder: true },
    { method: 'awq', bits: 3, groupSize: 16 },
    { method: 'magnitude', sparsity: { n: 2, m: 4 } },
    { method: 'wanda', sparsity: { n: 2, m: 4 } },
    { method: 'sparsegpt', sparsity: { n: 2, m: 4 } },
    { method: 'sparsegpt', sparsity: { ratio: 0.5 } },
  ])('%o: every linear of every layer, with the promised structure', async (settings) => {
    const { result, outs } = await run(settings);
    expect(outs.map((o) => o.layer)).toEqual([0, 1]);
    expect(result.linears).toHaveLength(14);
    for (const l of result.linears) {
      expect(l.structureProblem, l.name).toBeNull();
      expect(Number.isFinite(l.error), l.name).toBe(true);
      expect(l.error, l.name).toBeGreaterThan(0);
      expect(l.error, l.name).toBeLessThan(1);
    }
    for (const o of outs) {
      // All layer tensors come back, with full names.
      expect([...o.tensors.keys()].every((n) => n.startsWith(`model.layers.${o.layer}.`))).toBe(true);
      expect(o.tensors.size).toBe(9);
      if ('bits' in settings) expect(o.quantized.size).toBe(7);
    }
    expect(result.kernels).toBe('typescript');
    expect(result.forward).toBe('typescript');
  });

  it('GPTQ and AWQ beat RTN at 3 bits; SparseGPT and Wanda beat magnitude at 2:4', async () => {
    const rtn = meanError((await run({ method: 'rtn', bits: 3, groupSize: 16, sym: false })).result);
    const gptq = meanError((await run({ method: 'gptq', bits: 3, groupSize: 16, sym: false })).result);
    const awq = meanError((await run({ method: 'awq', bits: 3, groupSize: 16 })).result);
    const mag = meanError((await run({ method: 'magnitude' })).result);
    const wanda = meanError((await run({ method: 'wanda' })).result);
    const sgpt = meanError((await run({ method: 'sparsegpt' })).result);
    expect(gptq).toBeLessThan(rtn);
    expect(awq).toBeLessThan(rtn);
    expect(sgpt).toBeLessThan(mag);
    expect(wanda).toBeLessThan(mag);
  });

  it('retries the damping when a Hessian is not positive definite, and reports it', async () => {
    const { result } = await run(
      { method: 'gptq', bits: 4, groupSize: 16 },
      {
        layers: 1,
        onHessian: (_layer, linear, H) => {
          if (linear !== 'o_proj') return;
          const n = Math.sqrt(H.length);
          let mean = 0;
          for (let i = 0; i < n; i++) mean += H[i * n + i] / n;
          // A negative eigenvalue larger than 1% of mean(diag H): damping 0.01 cannot fix it, 0.02 can.
          H[n * n - 1] = -0.012 * mean;
        },
      },
    );
    const o = result.linears.find((l) => l.linear === 'o_proj')!;
    expect(o.solver!.retries).toBeGreaterThan(0);
    expect(o.solver!.percdamp).toBeGreaterThan(0.01);
    expect(result.dampRetries).toBe(o.solver!.retries);
  });

  it('names the tensor and the layer holding a NaN', async () => {
    const bad = new Map(weights);
    const up = bad.get('model.layers.1.mlp.up_proj.weight')!.slice();
    up[7] = NaN;
    bad.set('model.layers.1.mlp.up_proj.weight', up);
    await expect(
      compressLayers({ spec, source: mapSource(bad), calibration, settings: resolveSettings({ method: 'rtn' }) }),
    ).rejects.toThrow(/layer 1: model\.layers\.1\.mlp\.up_proj\.weight holds NaN at element 7/);
  });

  it('names the layer whose activations overflow on the calibration batch', async () => {
    const bad = new Map(weights);
    bad.set(
      'model.layers.0.self_attn.v_proj.weight',
      bad.get('model.layers.0.self_attn.v_proj.weight')!.map((v) => v * 1e36),
    );
    const err = await compressLayers({
      spec,
      source: mapSource(bad),
      calibration,
      settings: resolveSettings({ method: 'gptq', bits: 4 }),
    }).catch((e) => e);
    expect(err).toBeInstanceOf(NonFiniteError);
    expect(String(err.message)).toMatch(/^layer 0: the Hessian of the calibration activations entering o_proj overflowed fp32/);
    bad.set(
      'model.layers.0.self_attn.v_proj.weight',
      weights.get('model.layers.0.self_attn.v_proj.weight')!.map((v) => v * 1e38),
    );
    await expect(
      compressLayers({ spec, source: mapSource(bad), calibration, settings: resolveSettings({ method: 'wanda' }) }),
    ).rejects.toThrow(/^layer 0: the calibration activations entering o_proj hold (NaN|-?Infinity) \(sample 0, token \d+, channel \d+\)/);
  });

  /** The TypeScript block forward, recording how many samples each pass ran. */
  async function countingRunner(): Promise<{ runner: BlockRunner; passes: number[] }> {
    const inner = await createBlockRunner('typescript', spec, TYPESCRIPT_KERNELS);
    const passes: number[] = [];
    const runner: BlockRunner = {
      kind: inner.kind,
      run: (layer, lw, inputs, ...rest) => (passes.push(inputs.length), inner.run(layer, lw, inputs, ...rest)),
      dispose: () => inner.dispose(),
    };
    return { runner, passes };
  }

  it('each pass asks only for the outputs it reads: a runner handing back nothing else gives the same results', async () => {
    for (const settings of [
      { method: 'rtn', bits: 4, groupSize: 16 },
      { method: 'gptq', bits: 4, groupSize: 16 },
      { method: 'awq', bits: 4, groupSize: 16 },
      { method: 'sparsegpt' },
      { method: 'wanda' },
    ] satisfies CompressSettings[]) {
      const inner = await createBlockRunner('typescript', spec, TYPESCRIPT_KERNELS);
      const asked: string[] = [];
      const strict: BlockRunner = {
        kind: inner.kind,
        run: (layer, lw, inputs, seqLen, until, each, signal, want) => {
          asked.push(`${until}:${want?.join(',') ?? 'all'}`);
          return inner.run(
            layer,
            lw,
            inputs,
            seqLen,
            until,
            (s, out) => each(s, Object.fromEntries(Object.entries(out).filter(([t]) => want?.includes(t as never) ?? true))),
            signal,
          );
        },
        dispose: () => inner.dispose(),
      };
      const full = await run(settings);
      const got = await run(settings, { forward: strict });
      expect(
        got.result.linears.map((l) => l.error),
        settings.method,
      ).toEqual(full.result.linears.map((l) => l.error));
      for (const [i, o] of full.outs.entries()) expect(got.outs[i].tensors).toEqual(o.tensors);
      // The pass for the next layer's inputs reads the output alone (AWQ's dense pass keeps every tap too).
      if (settings.method !== 'awq') expect(asked.filter((a) => a.startsWith('out:'))).toEqual(['out:out', 'out:out']);
      if (settings.method === 'gptq')
        expect(asked.slice(0, 4)).toEqual([
          'q_proj_in:q_proj_in',
          'o_proj_in:o_proj_in',
          'gate_proj_in:gate_proj_in',
          'down_proj_in:down_proj_in',
        ]);
    }
  });

  it('runs the block passes of RTN and magnitude only on the samples their error report reads', async () => {
    // 30 error tokens of 24-token samples: samples 0 and 1.
    for (const settings of [{ method: 'rtn', bits: 4, groupSize: 16 }, { method: 'magnitude' }] satisfies CompressSettings[]) {
      const { runner, passes } = await countingRunner();
      const { result, outs } = await run(settings, { forward: runner, errorTokens: 30 });
      expect(passes.length).toBeGreaterThan(0);
      expect(new Set(passes)).toEqual(new Set([2]));
      expect([result.samples, result.forwardSamples]).toEqual([6, 2]);
      expect(result.linears.every((l) => l.errorTokens === 30)).toBe(true);
      // The other samples are never read: other tokens there change nothing.
      const other = [...calibration.slice(0, 2), ...tinyCalibration(spec, 4, 24, 99)];
      const again = await run(settings, { calibration: other, errorTokens: 30 });
      expect(again.result.linears.map((l) => l.error)).toEqual(result.linears.map((l) => l.error));
      for (const [i, o] of outs.entries()) expect(again.outs[i].tensors).toEqual(o.tensors);
    }
    // Methods that read statistics pass every sample.
    const { runner, passes } = await countingRunner();
    const { result } = await run({ method: 'wanda' }, { forward: runner, errorTokens: 30 });
    expect(new Set(passes)).toEqual(new Set([6]));
    expect(result.forwardSamples).toBe(6);
  });

  it('goes on from inputs an earlier run kept for every sample, using those the error report reads', async () => {
    const settings = resolveSettings({ method: 'rtn', bits: 4, groupSize: 16 });
    const whole = await run(settings, { errorTokens: 30 });
    // A run that forwarded all six samples kept six inputs of layer 1.
    let kept!: { timing: LayerTiming; next: Float32Array[] };
    await run(settings, { errorTokens: 6 * 24, layers: 1, onLayer: (_o, k) => void (kept = k) });
    expect(kept.next).toHaveLength(6);
    const layer0 = whole.result.linears.filter((l) => l.layer === 0);
    const resumed = await run(settings, {
      errorTokens: 30,
      resume: { layers: [kept.timing], linears: layer0, hidden: kept.next },
    });
    expect(resumed.outs.map((o) => o.layer)).toEqual([1]);
    expect(resumed.result.linears.map((l) => l.error)).toEqual(whole.result.linears.map((l) => l.error));
    expect(resumed.outs[0].tensors).toEqual(whole.outs[1].tensors);
    // Fewer inputs than the passes need is a broken checkpoint.
    await expect(
      run(settings, { errorTokens: 30, resume: { layers: [kept.timing], linears: layer0, hidden: kept.next.slice(0, 1) } }),
    ).rejects.toThrow(/resume: 1 inputs kept for 2 samples/);
  });

  it('stops between kernels when cancelled', async () => {
    const controller = new AbortController();
    const p = compressLayers({
      spec,
      source: mapSource(weights),
      calibration,
      settings: resolveSettings({ method: 'gptq', bits: 4 }),
      signal: controller.signal,
      onProgress: (e) => {
        if (e.layer === 1 && e.linear === 'o_proj') controller.abort();
      },
    });
    await expect(p).rejects.toThrow(/abort/i);
  });
});
