import { describe, expect, it } from 'vitest';
import { bytesSource } from '../../../src/lib/storage/byte-source';
import { ModelConfigError, parseModelSpec } from '../../../src/lib/model/config';
import { SafetensorsError, writeSafetensors, type TensorToWrite } from '../../../src/lib/model/safetensors';
import { llamaBlock, type ModelSpec } from '../../../src/lib/model/spec';
import { WeightMismatchError, WeightStore, WeightStoreError, expectedTensors } from '../../../src/lib/model/weights';
import { f16Value, f32Bytes, storiesBytes, storiesConfig, u16Bytes } from './helpers';
import { seededRandom } from '../../../src/lib/util/rng';

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a rejection');
}

const stories = () => WeightStore.open([{ name: 'model.safetensors', source: bytesSource('model.safetensors', storiesBytes()) }]);

describe('WeightStore over stories260k', () => {
  const spec = parseModelSpec(storiesConfig());

  it('validates against its own config', async () => {
    const w = await stories();
    await expect(w.validateAgainst(spec)).resolves.toBeUndefined();
    // The spec's expected set is exactly the checkpoint's (tied embeddings: no lm_head).
    expect(new Set(w.names())).toEqual(new Set(expectedTensors(spec).keys()));
  });

  it('reads one layer at a time, keyed without the prefix', async () => {
    const w = await stories();
    const layer = await w.layer(2);
    expect([...layer.keys()].sort()).toEqual(
      [
        'input_layernorm.weight',
        'mlp.down_proj.weight',
        'mlp.gate_proj.weight',
        'mlp.up_proj.weight',
        'post_attention_layernorm.weight',
        'self_attn.k_proj.weight',
        'self_attn.o_proj.weight',
        'self_attn.q_proj.weight',
        'self_attn.v_proj.weight',
      ].sort(),
    );
    expect(layer.get('self_attn.q_proj.weight')).toEqual(await w.float32('model.layers.2.self_attn.q_proj.weight'));
    expect(layer.get('mlp.down_proj.weight')!.length).toBe(64 * 172);
    await expect(w.layer(5)).rejects.toThrow(/no tensors for layer 5/);
  });

  it('reports info with the file it came from', async () => {
    const w = await stories();
    expect(w.info('model.norm.weight')).toMatchObject({ dtype: 'F32', shape: [64], file: 'model.safetensors' });
    expect(w.has('lm_head.weight')).toBe(false);
    expect(() => w.info('lm_head.weight')).toThrow(WeightStoreError);
  });

  it('catches an untied config against a tied checkpoint', async () => {
    const w = await stories();
    const e = await rejection(w.validateAgainst({ ...spec, tiedEmbeddings: false }));
    expect(e).toBeInstanceOf(WeightMismatchError);
    expect(e.message).toMatch(/missing tensor "lm_head.weight" \(expected shape \[512, 64\]\)/);
  });

  it('catches a config whose KV heads disagree with the weights', async () => {
    const w = await stories();
    const e = (await rejection(w.validateAgainst({ ...spec, numKvHeads: 8 }))) as WeightMismatchError;
    expect(e).toBeInstanceOf(ModelConfigError);
    // Two wrong tensors per layer, five layers: the message shows the first few and counts the rest.
    expect(e.problems).toHaveLength(10);
    expect(e.message).toMatch(/10 problems/);
    expect(e.message).toContain(
      'tensor "model.layers.0.self_attn.k_proj.weight" in model.safetensors has shape [32, 64], expected [64, 64]',
    );
    expect(e.message).toMatch(/… and 2 more$/);
  });
});

/** A small Qwen2-shaped model (untied, qkv biases) to exercise shards, biases and F16. */
const TINY: ModelSpec = {
  modelType: 'qwen2',
  architecture: 'Qwen2ForCausalLM',
  numLayers: 2,
  hiddenSize: 8,
  numHeads: 2,
  numKvHeads: 1,
  headDim: 4,
  intermediateSize: 12,
  vocabSize: 16,
  rope: { theta: 1e6, scaling: null },
  localRope: null,
  layerKinds: ['full', 'full'],
  slidingWindow: null,
  block: llamaBlock(4),
  rmsNormEps: 1e-6,
  tiedEmbeddings: false,
  qkvBias: true,
  maxPositions: 64,
  bosTokenId: null,
  eosTokenIds: [0],
  torchDtype: 'float16',
};

/** Random F16 tensors for `spec`, with the values each decodes to. */
function tinyTensors(spec: ModelSpec, seed = 1): { tensors: TensorToWrite[]; values: Map<string, number[]> } {
  const next = seededRandom(seed);
  const tensors: TensorToWrite[] = [];
  const values = new Map<string, number[]>();
  for (const [name, shape] of expectedTensors(spec)) {
    const n = shape.reduce((a, b) => a * b, 1);
    // Finite halves of either sign between 2^-14 and 2^1.
    const bits = Array.from(
      { length: n },
      () => ((next() < 0.5 ? 0x8000 : 0) | ((1 + Math.floor(next() * 16)) << 10) | Math.floor(next() * 1024)) >>> 0,
    );
    tensors.push({ name, dtype: 'F16', shape, data: u16Bytes(bits) });
    values.set(name, bits.map(f16Value));
  }
  return { tensors, values };
}

function sharded(spec: ModelSpec, mutate: (t: TensorToWrite[]) => TensorToWrite[] = (t) => t) {
  const { tensors, values } = tinyTensors(spec);
  const all = mutate(tensors);
  const first = all.filter((t) => t.name.startsWith('model.embed_tokens') || t.name.startsWith('model.layers.0.'));
  const second = all.filter((t) => !first.includes(t));
  const shardNames = ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors'];
  const files = [first, second].map((ts, i) => ({
    name: shardNames[i],
    source: bytesSource(shardNames[i], writeSafetensors(ts, { format: 'pt' })),
  }));
  const weight_map: Record<string, string> = {};
  first.forEach((t) => (weight_map[t.name] = shardNames[0]));
  second.forEach((t) => (weight_map[t.name] = shardNames[1]));
  return { files, index: { weight_map }, values, shardNames };
}

describe('WeightStore over a sharded checkpoint', () => {
  it('opens two shards with an index, validates and reads across them', async () => {
    const { files, index, values, shardNames } = sharded(TINY);
    const w = await WeightStore.open(files, index);
    await w.validateAgainst(TINY);
    expect(w.names()).toHaveLength(1 + 2 * 12 + 2);
    expect(w.info('model.layers.0.self_attn.q_proj.bias')).toMatchObject({ file: shardNames[0], shape: [8], dtype: 'F16' });
    expect(w.info('lm_head.weight')).toMatchObject({ file: shardNames[1], shape: [16, 8] });
    for (const name of w.names()) expect([...(await w.float32(name))]).toEqual(values.get(name));
    const layer1 = await w.layer(1);
    expect(layer1.size).toBe(12);
    expect([...layer1.get('self_attn.k_proj.bias')!]).toEqual(values.get('model.layers.1.self_attn.k_proj.bias'));
  });

  it('ignores files the index does not name', async () => {
    const { files, index } = sharded(TINY);
    const extra = { name: 'stray.safetensors', source: bytesSource('stray.safetensors', writeSafetensors([])) };
    const w = await WeightStore.open([...files, extra], index);
    expect(w.names()).toHaveLength(27);
  });

  it('names a shard the index needs but was not given', async () => {
    const { files, index, shardNames } = sharded(TINY);
    const e = await rejection(WeightStore.open([files[0]], index));
    expect(e).toBeInstanceOf(WeightStoreError);
    expect(e.message).toContain(`refers to shard "${shardNames[1]}" that was not provided (have: ${shardNames[0]})`);
  });

  it('names tensors the index lists but the shard lacks', async () => {
    const { files, index, shardNames } = sharded(TINY);
    index.weight_map['model.layers.1.mlp.extra.weight'] = shardNames[1];
    const e = await rejection(WeightStore.open(files, index));
    expect(e).toBeInstanceOf(WeightStoreError);
    expect(e.message).toContain(`1 tensor missing from its shard: "model.layers.1.mlp.extra.weight" (in ${shardNames[1]})`);
  });

  it('refuses an index without a weight_map', async () => {
    const { files } = sharded(TINY);
    await expect(WeightStore.open(files, {} as never)).rejects.toThrow(/no "weight_map" object/);
  });

  it('refuses a tensor present in two files when there is no index', async () => {
    const { files } = sharded(TINY);
    const dup = { name: 'copy.safetensors', source: files[0].source };
    await expect(WeightStore.open([files[0], dup])).rejects.toThrow(/appears in both/);
    await expect(WeightStore.open([])).rejects.toThrow(WeightStoreError);
  });

  it('passes on broken shards as SafetensorsError naming the shard', async () => {
    const { files, index, shardNames } = sharded(TINY);
    const bytes = await files[1].source.read(0, files[1].source.size);
    const truncated = { name: shardNames[1], source: bytesSource(shardNames[1], bytes.subarray(0, bytes.byteLength - 10)) };
    const e = await rejection(WeightStore.open([files[0], truncated], index));
    expect(e).toBeInstanceOf(SafetensorsError);
    expect(e.message).toMatch(new RegExp(`^${shardNames[1]}: tensor ".*" .*truncated`));
  });
});

describe('validateAgainst', () => {
  it('catches a wrong shape, naming both shapes', async () => {
    const { files, index } = sharded(TINY, (ts) =>
      ts.map((t) => (t.name === 'model.layers.1.mlp.up_proj.weight' ? { ...t, shape: [8, 12] } : t)),
    );
    const w = await WeightStore.open(files, index);
    const e = await rejection(w.validateAgainst(TINY));
    expect(e).toBeInstanceOf(WeightMismatchError);
    expect(e).toBeInstanceOf(ModelConfigError);
    expect(e.message).toContain(
      'tensor "model.layers.1.mlp.up_proj.weight" in model-00002-of-00002.safetensors has shape [8, 12], expected [12, 8]',
    );
  });

  it('catches a missing tensor and a missing bias', async () => {
    const drop = new Set(['model.layers.0.post_attention_layernorm.weight', 'model.layers.1.self_attn.v_proj.bias']);
    const { files, index } = sharded(TINY, (ts) => ts.filter((t) => !drop.has(t.name)));
    const w = await WeightStore.open(files, index);
    const e = (await rejection(w.validateAgainst(TINY))) as WeightMismatchError;
    expect(e.problems).toEqual([
      'missing tensor "model.layers.0.post_attention_layernorm.weight" (expected shape [8])',
      'missing tensor "model.layers.1.self_attn.v_proj.bias" (expected shape [4])',
    ]);
  });

  it('flags biases the spec does not use and non-float dtypes', async () => {
    const llamaSpec: ModelSpec = { ...TINY, modelType: 'llama', qkvBias: false };
    const { files, index } = sharded(TINY, (ts) =>
      ts.map((t) => (t.name === 'model.norm.weight' ? { name: t.name, dtype: 'I16' as const, shape: t.shape, data: t.data } : t)),
    );
    const w = await WeightStore.open(files, index);
    const e = (await rejection(w.validateAgainst(llamaSpec))) as WeightMismatchError;
    expect(e.problems).toContain('tensor "model.norm.weight" in model-00002-of-00002.safetensors has dtype I16, expected F32, F16 or BF16');
    expect(e.problems).toContain(
      'unexpected tensor "model.layers.0.self_attn.q_proj.bias": this llama config has no such bias, so it would be ignored',
    );
    expect(e.problems).toHaveLength(1 + 6);
  });

  it('accepts F32 and mixed-dtype checkpoints', async () => {
    const { files, index } = sharded(TINY, (ts) =>
      ts.map((t, i) => {
        if (i % 2 === 0) return t;
        const v = Array.from({ length: t.data.byteLength / 2 }, (_, k) => k / 4);
        return { ...t, dtype: 'F32' as const, data: f32Bytes(v) };
      }),
    );
    const w = await WeightStore.open(files, index);
    await w.validateAgainst(TINY);
  });
});
