import { describe, expect, it } from 'vitest';
import { parseModelSpec } from '../../../src/lib/model/config';
import { randomWeights } from '../../../src/lib/model/random-model';
import { buildCausalLm, buildCausalLmStreaming } from '../../../src/lib/onnx/decoder';

/** A tiny Gemma 3 (norm offset, q/k norms, tied head) and a tiny untied Qwen2 (biases). */
const CONFIGS = {
  gemma3: {
    model_type: 'gemma3_text',
    architectures: ['Gemma3ForCausalLM'],
    num_hidden_layers: 2,
    hidden_size: 32,
    num_attention_heads: 4,
    num_key_value_heads: 1,
    head_dim: 8,
    intermediate_size: 48,
    vocab_size: 50,
    max_position_embeddings: 64,
    rms_norm_eps: 1e-6,
    sliding_window: 4,
    layer_types: ['sliding_attention', 'full_attention'],
    rope_theta: 1000000,
    rope_local_base_freq: 10000,
    query_pre_attn_scalar: 8,
    tie_word_embeddings: true,
  },
  qwen2: {
    model_type: 'qwen2',
    architectures: ['Qwen2ForCausalLM'],
    num_hidden_layers: 2,
    hidden_size: 32,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    intermediate_size: 48,
    vocab_size: 40,
    max_position_embeddings: 64,
    rms_norm_eps: 1e-6,
    rope_theta: 10000,
    tie_word_embeddings: false,
  },
};

async function streamed(graph: ReturnType<typeof buildCausalLmStreaming>): Promise<Uint8Array[]> {
  const files: Uint8Array[] = [];
  for (const [i, f] of graph.externalFiles.entries()) {
    const out = new Uint8Array(f.byteLength);
    let pos = 0;
    await graph.writeExternal(i, async (bytes) => {
      out.set(bytes, pos);
      pos += bytes.byteLength;
    });
    expect(pos).toBe(f.byteLength);
    files.push(out);
  }
  return files;
}

describe('buildCausalLmStreaming', () => {
  for (const [family, config] of Object.entries(CONFIGS)) {
    it(`writes the same bytes as buildCausalLm for a ${family}, across several chunk files`, async () => {
      const spec = parseModelSpec(config);
      const weights = randomWeights(spec, 3);
      // Small chunks so tensors spill into several files and alignment gaps appear.
      const externalData = { maxChunkBytes: 20_000, align: 256 };
      const built = buildCausalLm(spec, weights, { externalData });
      const asked: string[] = [];
      const graph = buildCausalLmStreaming(
        spec,
        async (name) => {
          asked.push(name);
          return weights.get(name)!;
        },
        { externalData },
      );
      expect(asked).toEqual([]); // laying out reads nothing
      expect(graph.model).toEqual(built.model);
      expect(graph.externalDataChunks).toBe(built.externalData.length);
      expect(graph.externalDataChunks).toBeGreaterThan(2);
      expect(graph.externalFiles.map((f) => f.path)).toEqual(built.externalData.map((f) => f.path));
      const files = await streamed(graph);
      files.forEach((f, i) => expect(f).toEqual(built.externalData[i].data));
      // Every tensor is read exactly once.
      expect([...asked].sort()).toEqual([...weights.keys()].sort());
    });
  }

  it('the synchronous build refuses an asynchronous source by name', () => {
    const spec = parseModelSpec(CONFIGS.qwen2);
    const weights = randomWeights(spec, 1);
    const graph = buildCausalLmStreaming(spec, async (name) => weights.get(name)!);
    expect(graph.model.byteLength).toBeGreaterThan(0);
    expect(() => buildCausalLm(spec, ((name: string) => Promise.resolve(weights.get(name)!)) as never)).toThrow(
      /model\.embed_tokens\.weight: .*asynchronous/,
    );
  });

  it('a failing tensor read fails the write of its file', async () => {
    const spec = parseModelSpec(CONFIGS.qwen2);
    const weights = randomWeights(spec, 1);
    const graph = buildCausalLmStreaming(spec, async (name) => {
      if (name === 'model.layers.1.mlp.up_proj.weight') throw new Error(`${name} is unreadable`);
      return weights.get(name)!;
    });
    await expect(streamed(graph)).rejects.toThrow(/model\.layers\.1\.mlp\.up_proj\.weight is unreadable/);
  });
});
