import { describe, expect, it } from 'vitest';
import type { LayerOutput } from '../../../src/lib/compress/engine/report';
import type { QuantizedMatrix } from '../../../src/lib/compress/reference/quantizer';
import { checkpointPath, decodeCheckpoint, encodeCheckpoint, type LayerCheckpoint } from '../../../src/lib/variants/layer-checkpoint';

const context = { kernels: 'typescript', forward: 'typescript', layers: 4 };

function floats(n: number, seed: number): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => Math.sin(i * 7.1 + seed) * 3);
}

function quantized(weight: Float32Array, rows: number, cols: number, gIdx?: Int32Array): QuantizedMatrix {
  return {
    weight: { rows, cols, data: weight },
    codes: Uint8Array.from({ length: rows * cols }, (_, i) => i % 16),
    scales: floats(rows * 2, 9),
    zeros: Uint8Array.from({ length: rows * 2 }, (_, i) => (i * 3) % 16),
    bits: 4,
    groupSize: cols / 2,
    groups: 2,
    sym: false,
    variant: 'gptq',
    ...(gIdx ? { gIdx } : {}),
  };
}

function sample(): LayerCheckpoint {
  const q = floats(6 * 8, 1);
  const o = floats(6 * 8, 2);
  const out: LayerOutput = {
    layer: 1,
    // Odd lengths, so arrays after them must be realigned.
    tensors: new Map([
      ['model.layers.1.input_layernorm.weight', floats(5, 3)],
      ['model.layers.1.self_attn.q_proj.weight', q],
      ['model.layers.1.self_attn.o_proj.weight', o],
    ]),
    quantized: new Map([
      ['model.layers.1.self_attn.q_proj.weight', quantized(q, 6, 8)],
      // A fake-quantized weight that differs from the layer tensor, and a g_idx.
      [
        'model.layers.1.self_attn.o_proj.weight',
        quantized(
          floats(48, 4),
          6,
          8,
          Int32Array.from({ length: 8 }, (_, j) => j % 2),
        ),
      ],
    ]),
    linears: [
      {
        name: 'model.layers.1.self_attn.q_proj.weight',
        layer: 1,
        linear: 'q_proj',
        shape: [6, 8],
        error: 0.01,
        errorTokens: 32,
        zeros: 0,
        structureProblem: null,
        groupSize: 4,
        ms: 3,
      },
    ],
  };
  return { out, timing: { layer: 1, ms: 12.5, phases: { forward: 4, compress: 8.5 } }, next: [floats(3 * 5, 5), floats(3 * 5, 6)] };
}

describe('layer checkpoints', () => {
  it('give back the layer, its timing and the next inputs exactly', async () => {
    const c = sample();
    const back = decodeCheckpoint(await encodeCheckpoint(c, context).arrayBuffer(), context);
    expect(back.out.layer).toBe(1);
    expect(back.timing).toEqual(c.timing);
    expect(back.out.linears).toEqual(c.out.linears);
    expect([...back.out.tensors.keys()]).toEqual([...c.out.tensors.keys()]);
    for (const [name, v] of c.out.tensors) expect(back.out.tensors.get(name)).toEqual(v);
    for (const [name, q] of c.out.quantized) expect(back.out.quantized.get(name)).toEqual(q);
    expect(back.out.quantized.get('model.layers.1.self_attn.q_proj.weight')!.weight.data).toBe(
      back.out.tensors.get('model.layers.1.self_attn.q_proj.weight'),
    );
    expect(back.next).toEqual(c.next);
  });

  it('refuse another context, a truncated file and another format', async () => {
    const bytes = await encodeCheckpoint(sample(), context).arrayBuffer();
    expect(() => decodeCheckpoint(bytes, { ...context, kernels: 'webgpu' })).toThrow(/made with .*typescript/);
    expect(() => decodeCheckpoint(bytes.slice(0, bytes.byteLength - 9), context)).toThrow(/truncated data/);
    expect(() => decodeCheckpoint(bytes.slice(0, 20), context)).toThrow(/truncated header/);
    expect(() => decodeCheckpoint(new TextEncoder().encode('{"format":"x"}').buffer, context)).toThrow(/truncated|checkpoint/);
  });

  it('are named so that they sort by layer', () => {
    expect([checkpointPath(10), checkpointPath(2)].sort()).toEqual(['resume/layer-0002.bin', 'resume/layer-0010.bin']);
  });
});
