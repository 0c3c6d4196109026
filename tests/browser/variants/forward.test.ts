import { describe, expect, it } from 'vitest';
import { createBlockRunner } from '../../../src/lib/compress/engine/block-runner';
import { compressLayers } from '../../../src/lib/compress/engine/driver';
import { mapSource } from '../../../src/lib/compress/engine/layer-source';
import type { LayerOutput } from '../../../src/lib/compress/engine/report';
import { resolveSettings, type CompressSettings } from '../../../src/lib/compress/reference/settings';
import { smollm2Spec } from '../../../src/lib/bench/decode';
import { bytesSource } from '../../../src/lib/storage/byte-source';
import { parseModelSpecText } from '../../../src/lib/model/config';
import { SafetensorsFile } from '../../../src/lib/model/safetensors';
import { chooseForward } from '../../../src/lib/variants/compress-model';
import { fetchBytes, STORIES } from '../helpers';

async function stories() {
  const spec = parseModelSpecText(new TextDecoder().decode(await fetchBytes(`${STORIES}/config.json`)));
  const st = await SafetensorsFile.open(bytesSource('model.safetensors', await fetchBytes(`${STORIES}/model.safetensors`)));
  const weights = new Map<string, Float32Array>();
  for (const n of st.names()) weights.set(n, await st.float32(n));
  return { spec, weights };
}

describe('block forward: one-block ONNX graph in onnxruntime-web against the TypeScript forward', () => {
  it('the calibration driver gives the same compressed layers through either forward', async () => {
    const { spec, weights } = await stories();
    const calibration = Array.from({ length: 6 }, (_, s) => Array.from({ length: 40 }, (_, t) => 3 + ((s * 131 + t * 17) % 500)));
    for (const settings of [
      { method: 'gptq', bits: 4, groupSize: 64 },
      { method: 'sparsegpt', sparsity: { n: 2, m: 4 } },
    ] as CompressSettings[]) {
      const outs: Record<string, LayerOutput[]> = { typescript: [], 'ort-wasm': [] };
      const errors: Record<string, number[]> = {};
      for (const forward of ['typescript', 'ort-wasm'] as const) {
        const r = await compressLayers({
          spec,
          source: mapSource(weights),
          calibration,
          settings: resolveSettings(settings),
          forward,
          onLayer: (o) => void outs[forward].push(o),
        });
        expect(r.forward).toBe(forward);
        errors[forward] = r.linears.map((l) => l.error);
      }
      // fp32 rounding differs between the two forwards; GPTQ's error feedback turns that into
      // different (equally good) codes, so compare quality per linear, and masks for pruning.
      const mean = (a: number[]) => a.reduce((x, y) => x + y, 0) / a.length;
      errors.typescript.forEach((e, i) =>
        expect(Math.abs(errors['ort-wasm'][i] - e), `${settings.method} linear ${i}`).toBeLessThan(0.15 * e + 1e-6),
      );
      expect(Math.abs(mean(errors['ort-wasm']) / mean(errors.typescript) - 1), settings.method).toBeLessThan(0.03);
      if (settings.method === 'sparsegpt') {
        // Masks: layer 0 sees the same inputs through both forwards; later layers inherit the differences.
        const maskDiff = (layers: number[]) => {
          let differ = 0;
          let total = 0;
          for (const layer of layers) {
            for (const [name, a] of outs.typescript[layer].tensors) {
              if (!name.endsWith('_proj.weight')) continue;
              const b = outs['ort-wasm'][layer].tensors.get(name)!;
              for (let i = 0; i < a.length; i++) if ((a[i] === 0) !== (b[i] === 0)) differ++;
              total += a.length;
            }
          }
          return differ / total;
        };
        expect(maskDiff([0])).toBeLessThan(0.005);
        expect(maskDiff([...Array(spec.numLayers).keys()])).toBeLessThan(0.1);
      }
    }
  });

  it('one ORT pass returns the layer output and every tap of the TypeScript forward', async () => {
    const { spec, weights } = await stories();
    const src = mapSource(weights);
    const lw = await src.layer(2);
    const H = spec.hiddenSize;
    const inputs = [0, 1, 2].map((s) => Float32Array.from({ length: 24 * H }, (_, i) => Math.sin(i * 0.37 + s)));
    const got: Record<string, Record<number, Record<string, Float32Array | undefined>>> = { typescript: {}, 'ort-wasm': {} };
    for (const kind of ['typescript', 'ort-wasm'] as const) {
      const runner = await createBlockRunner(kind, spec);
      await runner.run(2, lw, inputs, 24, 'out', (s, o) => void (got[kind][s] = { ...o }));
      await runner.dispose();
    }
    for (const s of [0, 1, 2]) {
      for (const k of ['out', 'q_proj_in', 'o_proj_in', 'gate_proj_in', 'down_proj_in']) {
        const a = got.typescript[s][k]!;
        const b = got['ort-wasm'][s][k]!;
        let worst = 0;
        let scale = 0;
        for (let i = 0; i < a.length; i++) {
          worst = Math.max(worst, Math.abs(a[i] - b[i]));
          scale = Math.max(scale, Math.abs(a[i]));
        }
        expect(worst / scale, `${k} of sample ${s}`).toBeLessThan(1e-4);
      }
    }
  });

  it('an ORT pass fetches only the outputs wanted', async () => {
    const { spec, weights } = await stories();
    const lw = await mapSource(weights).layer(1);
    const inputs = [0, 1].map((s) => Float32Array.from({ length: 16 * spec.hiddenSize }, (_, i) => Math.cos(i * 0.21 + s)));
    const runner = await createBlockRunner('ort-wasm', spec);
    const all: Record<string, Float32Array | undefined>[] = [];
    const some: Record<string, Float32Array | undefined>[] = [];
    await runner.run(1, lw, inputs, 16, 'out', (s, o) => void (all[s] = { ...o }));
    await runner.run(1, lw, inputs, 16, 'out', (s, o) => void (some[s] = { ...o }), undefined, ['out', 'gate_proj_in']);
    await runner.dispose();
    for (const s of [0, 1]) {
      expect(Object.keys(all[s]).sort()).toEqual(['down_proj_in', 'gate_proj_in', 'o_proj_in', 'out', 'q_proj_in']);
      expect(Object.keys(some[s]).sort()).toEqual(['gate_proj_in', 'out']);
      expect(some[s].out).toEqual(all[s].out);
      expect(some[s].gate_proj_in).toEqual(all[s].gate_proj_in);
    }
  });

  it('auto picks the TypeScript forward for small passes and ORT for large ones', async () => {
    const { spec } = await stories();
    expect(chooseForward(spec, 128, 512)).toBe('typescript');
    expect(chooseForward(smollm2Spec(30), 4, 64)).toBe('typescript');
    expect(chooseForward(smollm2Spec(30), 128, 512)).toBe('ort-wasm');
    // With WebGPU kernels on a hardware adapter the WGSL forward, whatever the size.
    expect(chooseForward(spec, 4, 64, true)).toBe('webgpu');
    expect(chooseForward(smollm2Spec(30), 128, 512, true)).toBe('webgpu');
  });
});
