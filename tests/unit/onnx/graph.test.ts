import { describe, expect, it } from 'vitest';
import onnxProto from 'onnx-proto';
import { llamaBlock, type ModelSpec } from '../../../src/lib/model/spec';
import { GraphBuilder } from '../../../src/lib/onnx/graph-builder';
import { BLOCK_TAPS, buildCausalLm, buildDecoderBlock } from '../../../src/lib/onnx/decoder';
import { packMatMulNBits, type PackedLinear } from '../../../src/lib/onnx/matmul-nbits';

const { onnx } = onnxProto;

const SPEC: ModelSpec = {
  modelType: 'qwen2',
  architecture: 'Qwen2ForCausalLM',
  numLayers: 2,
  hiddenSize: 32,
  numHeads: 4,
  numKvHeads: 2,
  headDim: 8,
  intermediateSize: 48,
  vocabSize: 40,
  rope: { theta: 10000, scaling: null },
  localRope: null,
  layerKinds: ['full', 'full'],
  slidingWindow: null,
  block: llamaBlock(8),
  rmsNormEps: 1e-6,
  tiedEmbeddings: false,
  qkvBias: true,
  maxPositions: 128,
  bosTokenId: null,
  eosTokenIds: [],
  torchDtype: null,
};

/** Weights whose every value encodes its tensor and index, so bytes can be traced. */
function weights(spec: ModelSpec): Map<string, Float32Array> {
  const { hiddenSize: H, numHeads: NH, numKvHeads: KVH, headDim: D, intermediateSize: I, vocabSize: V } = spec;
  const shapes: Record<string, number> = { 'model.embed_tokens.weight': V * H, 'model.norm.weight': H, 'lm_head.weight': V * H };
  for (let l = 0; l < spec.numLayers; l++) {
    const p = `model.layers.${l}`;
    Object.assign(shapes, {
      [`${p}.input_layernorm.weight`]: H,
      [`${p}.post_attention_layernorm.weight`]: H,
      [`${p}.self_attn.q_proj.weight`]: NH * D * H,
      [`${p}.self_attn.q_proj.bias`]: NH * D,
      [`${p}.self_attn.k_proj.weight`]: KVH * D * H,
      [`${p}.self_attn.k_proj.bias`]: KVH * D,
      [`${p}.self_attn.v_proj.weight`]: KVH * D * H,
      [`${p}.self_attn.v_proj.bias`]: KVH * D,
      [`${p}.self_attn.o_proj.weight`]: H * NH * D,
      [`${p}.mlp.gate_proj.weight`]: I * H,
      [`${p}.mlp.up_proj.weight`]: I * H,
      [`${p}.mlp.down_proj.weight`]: H * I,
    });
  }
  return new Map(Object.entries(shapes).map(([name, n], t) => [name, Float32Array.from({ length: n }, (_, i) => t * 1000 + i / n)]));
}

type Model = ReturnType<typeof onnx.ModelProto.decode>;

function dims(v: {
  type?: { tensorType?: { shape?: { dim?: { dimValue?: unknown; dimParam?: string | null }[] | null } | null } | null } | null;
}): (number | string)[] {
  return (v.type?.tensorType?.shape?.dim ?? []).map((d) => (d.dimParam ? d.dimParam : Number(d.dimValue)));
}

/** Every node input is a graph input, an initializer or an earlier node's output. */
function expectTopologicallySorted(m: Model): void {
  const g = m.graph!;
  const known = new Set<string>([...g.input!.map((i) => i.name!), ...g.initializer!.map((t) => t.name!)]);
  for (const n of g.node!) {
    for (const i of n.input!) if (i) expect(known.has(i), `${n.name} reads undefined ${i}`).toBe(true);
    for (const o of n.output!) known.add(o);
  }
  for (const o of g.output!) expect(known.has(o.name!), o.name!).toBe(true);
}

function externalEntries(t: { externalData?: { key?: string | null; value?: string | null }[] | null }): Record<string, string> {
  return Object.fromEntries((t.externalData ?? []).map((e) => [e.key!, e.value!]));
}

describe('ONNX encoding', () => {
  it('encodes attributes, negative ints and symbolic dims that onnx-proto decodes back', () => {
    const b = new GraphBuilder('g');
    const x = b.input('x', 'float32', ['batch_size', 3]);
    const y = b.op('Softmax', [x], { axis: -1 });
    b.op('LeakyRelu', [y], { alpha: { float: 0.25 } }, 'out');
    b.output('out', 'float32', ['batch_size', 3]);
    b.i64([-1, 0, 5]);
    const { model, externalData } = b.build({ opsets: [{ domain: '', version: 17 }], externalData: false });
    expect(externalData).toEqual([]);
    const m = onnx.ModelProto.decode(model);
    expect(Number(m.irVersion)).toBe(8);
    expect(m.opsetImport!.map((o) => [o.domain, Number(o.version)])).toEqual([['', 17]]);
    const [softmax, leaky] = m.graph!.node!;
    expect(Number(softmax.attribute![0].i)).toBe(-1);
    expect(softmax.attribute![0].type).toBe(onnx.AttributeProto.AttributeType.INT);
    expect(leaky.attribute![0].f).toBeCloseTo(0.25);
    expect(dims(m.graph!.input![0])).toEqual(['batch_size', 3]);
    const c = m.graph!.initializer![0];
    expect(Array.from(new BigInt64Array(c.rawData!.slice().buffer))).toEqual([-1n, 0n, 5n]);
  });
});

describe('buildCausalLm', () => {
  const w = weights(SPEC);
  const built = buildCausalLm(SPEC, w, { externalData: { maxChunkBytes: 8192, align: 256 } });
  const m = onnx.ModelProto.decode(built.model);
  const g = m.graph!;

  it('has the transformers.js I/O names and shapes, and the shared prefix and new keys after them', () => {
    const names = ['input_ids', 'attention_mask', 'position_ids', 'num_logits_to_keep'];
    for (let l = 0; l < SPEC.numLayers; l++) names.push(`past_key_values.${l}.key`, `past_key_values.${l}.value`);
    for (let l = 0; l < SPEC.numLayers; l++) names.push(`prefix_key_values.${l}.key`, `prefix_key_values.${l}.value`);
    expect(g.input!.map((i) => i.name)).toEqual(names);
    expect(dims(g.input![0])).toEqual(['batch_size', 'sequence_length']);
    expect(dims(g.input![1])).toEqual(['batch_size', 'total_sequence_length']);
    // A scalar, as transformers.js feeds it.
    expect(dims(g.input![3])).toEqual([]);
    expect(dims(g.input![4])).toEqual(['batch_size', 2, 'past_sequence_length', 8]);
    // One copy for the whole batch.
    expect(dims(g.input![8])).toEqual([1, 2, 'prefix_sequence_length', 8]);
    expect(g.input!.map((i) => i.type!.tensorType!.elemType)).toEqual([7, 7, 7, 7, 1, 1, 1, 1, 1, 1, 1, 1]);
    expect(g.output!.map((o) => o.name)).toEqual([
      'logits',
      'present.0.key',
      'present.0.value',
      'present.1.key',
      'present.1.value',
      'new_key_values.0.key',
      'new_key_values.0.value',
      'new_key_values.1.key',
      'new_key_values.1.value',
    ]);
    expect(dims(g.output![0])).toEqual(['batch_size', 'logits_length', 40]);
    // Past and new tokens: the prefix is not in it.
    expect(dims(g.output![1])).toEqual(['batch_size', 2, 'own_sequence_length', 8]);
    // This pass's tokens alone.
    expect(dims(g.output![5])).toEqual(['batch_size', 2, 'sequence_length', 8]);
    expectTopologicallySorted(m);
  });

  it('uses only default-domain ops for the fp32 graph', () => {
    expect(g.node!.every((n) => !n.domain)).toBe(true);
    expect(new Set(g.node!.map((n) => n.opType))).not.toContain('Cos');
  });

  it('chunks the weights into aligned external data files that hold the right bytes', () => {
    expect(built.externalData.length).toBeGreaterThan(1);
    expect(built.externalDataChunks).toBe(built.externalData.length);
    expect(built.externalData.map((f) => f.path)).toEqual(built.externalData.map((_, i) => `model.onnx_data${i ? `_${i}` : ''}`));
    const files = new Map(built.externalData.map((f) => [f.path, f.data]));
    const external = g.initializer!.filter((t) => t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL);
    expect(external.length).toBeGreaterThan(0);
    for (const t of external) {
      const e = externalEntries(t);
      const data = files.get(e.location)!;
      expect(data, e.location).toBeDefined();
      expect(Number(e.offset) % 256).toBe(0);
      expect(Number(e.offset) + Number(e.length)).toBeLessThanOrEqual(data.length);
      expect(data.length <= 8192 || Number(e.length) > 8192).toBe(true);
      expect(t.rawData?.length ?? 0).toBe(0);
    }
    // The embedding is stored as is; q_proj of layer 1 transposed to [in, out].
    const read = (name: string): Float32Array => {
      const e = externalEntries(external.find((t) => t.name === name)!);
      return new Float32Array(files.get(e.location)!.slice(Number(e.offset), Number(e.offset) + Number(e.length)).buffer);
    };
    expect(read('model.embed_tokens.weight')).toEqual(w.get('model.embed_tokens.weight'));
    const q = w.get('model.layers.1.self_attn.q_proj.weight')!;
    const qt = read('model.layers.1.self_attn.q_proj.weight.T');
    const out = SPEC.numHeads * SPEC.headDim;
    expect(qt[3 * out + 5]).toBe(q[5 * SPEC.hiddenSize + 3]);
    expect(read('model.layers.0.self_attn.k_proj.bias')).toEqual(w.get('model.layers.0.self_attn.k_proj.bias'));
  });

  it('keeps weights inline when external data is off', () => {
    const inline = buildCausalLm(SPEC, w, { externalData: false });
    expect(inline.externalData).toEqual([]);
    const im = onnx.ModelProto.decode(inline.model);
    expect(im.graph!.initializer!.every((t) => t.dataLocation !== onnx.TensorProto.DataLocation.EXTERNAL)).toBe(true);
  });

  it('names the chunks after the model file', () => {
    const q4 = buildCausalLm(SPEC, w, { externalData: { modelFileName: 'model_q4.onnx' } });
    expect(q4.externalData.map((f) => f.path)).toEqual(['model_q4.onnx_data']);
  });

  it('reuses the embedding for a tied head instead of storing a transposed copy', () => {
    const tied = { ...SPEC, tiedEmbeddings: true };
    const tm = onnx.ModelProto.decode(buildCausalLm(tied, w).model);
    expect(tm.graph!.node!.some((n) => n.opType === 'Gemm')).toBe(true);
    expect(tm.graph!.initializer!.some((t) => t.name!.startsWith('lm_head'))).toBe(false);
  });

  it('emits com.microsoft MatMulNBits for packed linears', () => {
    const packed = new Map<string, PackedLinear>();
    const K = SPEC.hiddenSize;
    const N = SPEC.intermediateSize;
    packed.set('model.layers.0.mlp.up_proj.weight', packMatMulNBits(w.get('model.layers.0.mlp.up_proj.weight')!, N, K, 4, 16, false));
    const qm = onnx.ModelProto.decode(buildCausalLm(SPEC, w, { linear: 'matmulnbits', packed }).model);
    const nodes = qm.graph!.node!.filter((n) => n.opType === 'MatMulNBits');
    expect(nodes).toHaveLength(1);
    expect(nodes[0].domain).toBe('com.microsoft');
    expect(Object.fromEntries(nodes[0].attribute!.map((a) => [a.name, Number(a.i)]))).toEqual({ K, N, bits: 4, block_size: 16 });
    expect(nodes[0].input).toHaveLength(4);
    const bInit = qm.graph!.initializer!.find((t) => t.name === nodes[0].input![1])!;
    expect(bInit.dims!.map(Number)).toEqual([N, 2, 8]);
    expect(bInit.dataType).toBe(onnx.TensorProto.DataType.UINT8);
    expect(qm.opsetImport!.map((o) => o.domain)).toContain('com.microsoft');
  });

  it('rejects packed weights of the wrong shape and missing weights', () => {
    const packed = new Map([['model.layers.0.mlp.up_proj.weight', packMatMulNBits(new Float32Array(32 * 32), 32, 32, 4, 16, true)]]);
    expect(() => buildCausalLm(SPEC, w, { linear: 'matmulnbits', packed })).toThrow(/packed weight is \[32, 32\]/);
    const partial = new Map(w);
    partial.delete('model.layers.1.mlp.down_proj.weight');
    expect(() => buildCausalLm(SPEC, partial)).toThrow(/missing weight model.layers.1.mlp.down_proj.weight/);
  });
});

describe('buildDecoderBlock', () => {
  it('has hidden_states/position_ids in and the output plus linear inputs out, reading only its layer', () => {
    const w = weights(SPEC);
    const read = new Set<string>();
    const built = buildDecoderBlock(SPEC, 1, (name) => {
      read.add(name);
      return w.get(name)!;
    });
    const m = onnx.ModelProto.decode(built.model);
    expect(m.graph!.input!.map((i) => i.name)).toEqual(['hidden_states', 'position_ids']);
    expect(m.graph!.output!.map((o) => o.name)).toEqual(['hidden_states_out', ...BLOCK_TAPS]);
    expect(m.graph!.output!.map((o) => dims(o)[2])).toEqual([32, 32, 32, 32, 48]);
    expect([...read].every((n) => n.startsWith('model.layers.1.'))).toBe(true);
    expect(read.size).toBe(12);
    expectTopologicallySorted(m);
  });
});
