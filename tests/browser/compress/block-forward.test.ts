import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBlockRunner, typeScriptBlockRunner } from '../../../src/lib/compress/engine/block-runner';
import { compressLayers } from '../../../src/lib/compress/engine/driver';
import { mapSource } from '../../../src/lib/compress/engine/layer-source';
import type { CompressReport, LayerOutput } from '../../../src/lib/compress/engine/report';
import type { ForwardKind } from '../../../src/lib/compress/engine/runner-types';
import { Timer } from '../../../src/lib/compress/engine/timer';
import { squaredErrorF32 } from '../../../src/lib/compress/reference/awq';
import { attention, linearF32, mlp, type BlockOutputs } from '../../../src/lib/compress/reference/block';
import { resolveSettings, type CompressSettings } from '../../../src/lib/compress/reference/settings';
import { GpuBlockForward, type SubBlock } from '../../../src/lib/gpu/block-forward';
import { requestDevice } from '../../../src/lib/gpu/device';
import { parseModelSpec } from '../../../src/lib/model/config';
import { BLOCK_TAPS, linearWeightName, type LinearId, type ModelSpec } from '../../../src/lib/model/spec';
import { tinyCheckpoint, tinyIds, type TinyKind } from '../../reference/tiny-checkpoints';
import { normals } from '../../unit/compress/fixtures';
import { relDiff } from './compare';

/**
 * The WGSL block forward (forward `webgpu`) against the TypeScript one of reference/block.ts
 * on tiny random Llama-3 (RoPE scaling), Qwen3 (q/k norm, head_dim ≠ hidden/heads) and Gemma 3
 * (sliding windows shorter than the samples, local RoPE, 1 + w norms, post norms, GELU)
 * checkpoints; then AWQ's sub-block losses; then whole compressions through either forward.
 * The TypeScript forward accumulates in double, the WGSL one in fp32.
 */
const FWD_TOL = 1e-5;
const KINDS: TinyKind[] = ['llama3-scaling', 'qwen3', 'gemma3'];

let device: GPUDevice;
beforeAll(async () => {
  device = await requestDevice();
});
afterAll(() => device?.destroy());

function tiny(kind: TinyKind) {
  const { config, weights } = tinyCheckpoint(kind, 7);
  return { spec: parseModelSpec(config), weights };
}

function hiddenInputs(spec: ModelSpec, samples: number, seqLen: number): Float32Array[] {
  return Array.from({ length: samples }, (_, s) => normals(seqLen * spec.hiddenSize, 100 + s));
}

async function collect(run: (each: (s: number, o: BlockOutputs) => void) => Promise<void>): Promise<BlockOutputs[]> {
  const got: BlockOutputs[] = [];
  await run((s, o) => void (got[s] = { ...o }));
  return got;
}

describe.each(KINDS)('WGSL block forward on a tiny %s checkpoint', (kind) => {
  const { spec, weights } = tiny(kind);
  const seqLen = 11;
  const inputs = hiddenInputs(spec, 3, seqLen);

  it('gives the output and every tap of the TypeScript forward on each layer', async () => {
    const source = mapSource(weights);
    const gpu = await createBlockRunner('webgpu', spec, { kind: 'webgpu', device });
    expect(gpu.kind).toBe('webgpu');
    for (let layer = 0; layer < spec.numLayers; layer++) {
      const lw = await source.layer(layer);
      const want = await collect((each) => typeScriptBlockRunner(spec).run(layer, lw, inputs, seqLen, 'out', each));
      const got = await collect((each) => gpu.run(layer, lw, inputs, seqLen, 'out', each));
      for (let s = 0; s < inputs.length; s++) {
        for (const k of ['out', ...BLOCK_TAPS] as const) {
          expect(relDiff(got[s][k]!, want[s][k]!), `layer ${layer} ${k} of sample ${s}`).toBeLessThanOrEqual(FWD_TOL);
        }
      }
    }
    await gpu.dispose();
  });

  it('stops at a tap with the taps before it, and batches samples in any grouping', async () => {
    const lw = await mapSource(weights).layer(0);
    const want = await collect((each) => typeScriptBlockRunner(spec).run(0, lw, inputs, seqLen, 'out', each));
    // A batch budget below one sample's activations: one sample per batch.
    const fwd = new GpuBlockForward(device, spec, { batchBytes: 1 });
    const got = await collect((each) => fwd.run(0, lw, inputs, seqLen, 'gate_proj_in', each));
    fwd.dispose();
    for (let s = 0; s < inputs.length; s++) {
      expect(got[s].out).toBeUndefined();
      expect(got[s].down_proj_in).toBeUndefined();
      for (const k of ['q_proj_in', 'o_proj_in', 'gate_proj_in'] as const)
        expect(relDiff(got[s][k]!, want[s][k]!), `${k} of sample ${s}`).toBeLessThanOrEqual(FWD_TOL);
    }
  });

  it('reads back only the outputs wanted, the same values, and refuses one the pass does not reach', async () => {
    const lw = await mapSource(weights).layer(0);
    const fwd = new GpuBlockForward(device, spec);
    const all = await collect((each) => fwd.run(0, lw, inputs, seqLen, 'out', each));
    // Timed: the device's share and the copies out are told apart, the outputs unchanged.
    const timer = new Timer();
    const some = await collect((each) => fwd.run(0, lw, inputs, seqLen, 'out', each, undefined, ['out', 'o_proj_in'], timer));
    expect(Object.keys(timer.phases).sort()).toEqual(['forward: gpu', 'forward: readback']);
    for (let s = 0; s < inputs.length; s++) {
      expect(Object.keys(some[s]).sort()).toEqual(['o_proj_in', 'out']);
      expect(some[s].out).toEqual(all[s].out);
      expect(some[s].o_proj_in).toEqual(all[s].o_proj_in);
    }
    await expect(fwd.run(0, lw, inputs, seqLen, 'o_proj_in', () => undefined, undefined, ['gate_proj_in'])).rejects.toThrow(
      /a block pass up to o_proj_in does not compute gate_proj_in/,
    );
    fwd.dispose();
  });

  it("AWQ's sub-block losses match the TypeScript attention, MLP and linears", async () => {
    const layer = spec.numLayers - 1;
    const dense = await mapSource(weights).layer(layer);
    const taps = await collect((each) => typeScriptBlockRunner(spec).run(layer, dense, inputs, seqLen, 'out', each));
    const N = inputs.length;
    const { hiddenSize: H, intermediateSize: I } = spec;
    const cases: {
      sub: SubBlock;
      tap: (typeof BLOCK_TAPS)[number];
      changed: LinearId[];
      out: (lw: Map<string, Float32Array>, n: number) => Float32Array;
    }[] = [
      {
        sub: { kind: 'attention' },
        tap: 'q_proj_in',
        changed: ['q_proj', 'k_proj', 'v_proj'],
        out: (lw, n) => attention(spec, layer, lw, taps[n].q_proj_in!, seqLen).out!,
      },
      {
        sub: { kind: 'mlp' },
        tap: 'gate_proj_in',
        changed: ['gate_proj', 'up_proj'],
        out: (lw, n) => mlp(spec, lw, taps[n].gate_proj_in!, seqLen).out!,
      },
      {
        sub: { kind: 'linear', linear: 'o_proj' },
        tap: 'o_proj_in',
        changed: ['o_proj'],
        out: (lw, n) => linearF32(taps[n].o_proj_in!, lw.get(linearWeightName('o_proj'))!, seqLen, spec.numHeads * spec.headDim, H),
      },
      {
        sub: { kind: 'linear', linear: 'down_proj' },
        tap: 'down_proj_in',
        changed: ['down_proj'],
        out: (lw, n) => linearF32(taps[n].down_proj_in!, lw.get(linearWeightName('down_proj'))!, seqLen, I, H),
      },
    ];
    // Two samples per batch: the loss sums over batches.
    const fwd = new GpuBlockForward(device, spec, { batchBytes: 2 * seqLen * 4 * (8 * H + 4 * I) });
    for (const c of cases) {
      const width = taps[0][c.tap]!.length;
      const inputsOf = new Float32Array(N * width);
      taps.forEach((t, n) => inputsOf.set(t[c.tap]!, n * width));
      const loss = await fwd.subBlockLoss(layer, c.sub, inputsOf, N, seqLen, dense);
      for (const amount of [0, 0.01, 0.1]) {
        const lw = new Map(dense);
        c.changed.forEach((l, i) => {
          const w = dense.get(linearWeightName(l))!;
          const noise = normals(w.length, 50 + i);
          lw.set(
            linearWeightName(l),
            w.map((v, j) => v + amount * noise[j] * Math.abs(v)),
          );
        });
        let want = 0;
        for (let n = 0; n < N; n++) want += squaredErrorF32(c.out(lw, n), c.out(dense, n));
        const got = await loss.sum(lw);
        if (amount === 0) expect(got, `${c.sub.kind} unchanged`).toBeLessThan(1e-9);
        else expect(Math.abs(got - want) / want, `${JSON.stringify(c.sub)} at ${amount}`).toBeLessThan(1e-3);
      }
      loss.destroy();
    }
    fwd.dispose();
  });
});

describe('compressLayers through the WGSL forward against the TypeScript forward', () => {
  const { spec, weights } = tiny('qwen3');
  const calibration = Array.from({ length: 4 }, (_, s) => tinyIds(16, 20 + s, spec.vocabSize));

  async function compress(settings: CompressSettings, forward: ForwardKind) {
    const layers: LayerOutput[] = [];
    const report: CompressReport = await compressLayers({
      spec,
      source: mapSource(weights),
      calibration,
      settings: resolveSettings(settings),
      kernels: { kind: 'webgpu', device },
      forward,
      onLayer: (o) => void layers.push(o),
    });
    expect(report.forward).toBe(forward);
    return { report, layers };
  }

  it('the default forward with WebGPU kernels is the WGSL one', async () => {
    const r = await compressLayers({
      spec,
      source: mapSource(weights),
      calibration,
      settings: resolveSettings({ method: 'rtn', bits: 4, groupSize: 32 }),
      kernels: { kind: 'webgpu', device },
      layers: 1,
    });
    expect(r.forward).toBe('webgpu');
  });

  it.each([
    { method: 'gptq', bits: 4, groupSize: 32 },
    { method: 'awq', bits: 4, groupSize: 32 },
    { method: 'sparsegpt', sparsity: { n: 2, m: 4 } },
  ] as CompressSettings[])('$method: the same compressed weights within tolerance', async (settings) => {
    const ts = await compress(settings, 'typescript');
    const gpu = await compress(settings, 'webgpu');
    // Weights off by more than a rounding difference: a code, a scale or a mask bit moved.
    let moved = 0;
    let total = 0;
    let masks = 0;
    for (let layer = 0; layer < spec.numLayers; layer++) {
      for (const [name, a] of ts.layers[layer].tensors) {
        const b = gpu.layers[layer].tensors.get(name)!;
        let scale = 0;
        for (const v of a) scale = Math.max(scale, Math.abs(v));
        for (let i = 0; i < a.length; i++) {
          if (Math.abs(a[i] - b[i]) > 1e-4 * scale) moved++;
          if ((a[i] === 0) !== (b[i] === 0)) masks++;
        }
        total += a.length;
      }
    }
    const errTs = ts.report.linears.map((l) => l.error);
    const errGpu = gpu.report.linears.map((l) => l.error);
    const ratios = (r: CompressReport) => r.linears.map((l) => l.awq?.ratio);
    console.log(
      `${settings.method}: ${moved}/${total} weights moved, ${masks} mask bits differ; errors ${errTs.map((e) => e.toExponential(3))} vs ${errGpu.map((e) => e.toExponential(3))}; ratios ${ratios(ts.report)} vs ${ratios(gpu.report)}`,
    );
    // The forwards agree to ~1e-6 (fp32 against double accumulation); that can move a value
    // across a rounding or selection boundary, which GPTQ's error feedback then carries along
    // its row, so a small share of weights may move; the reconstruction errors agree.
    expect(moved / total).toBeLessThan(0.01);
    expect(masks / total).toBeLessThan(0.001);
    errTs.forEach((e, i) => expect(Math.abs(errGpu[i] - e), `linear ${i}`).toBeLessThan(0.05 * e + 1e-7));
    if (settings.method === 'awq') expect(ratios(gpu.report)).toEqual(ratios(ts.report));
  });
});
