import { describe, expect, it } from 'vitest';
import {
  BATCH_BUDGET_BYTES,
  BATCH_CAP,
  KEPT_LOGITS,
  logitRows,
  batchCap,
  bytesPerSequence,
  checkBatchSize,
  chooseBatchSize,
  macsPerToken,
  WASM_MIN_CAP,
} from '../../../src/lib/infer/batch-size';
import { sampleIndex } from '../../../src/lib/infer/generate-batch';
import { smollm2Spec } from '../../../src/lib/bench/decode';
import { parseModelSpec } from '../../../src/lib/model/config';

/** stories260k's config.json. */
const STORIES_CONFIG = {
  architectures: ['LlamaForCausalLM'],
  model_type: 'llama',
  hidden_size: 64,
  intermediate_size: 172,
  num_hidden_layers: 5,
  num_attention_heads: 8,
  num_key_value_heads: 4,
  head_dim: 8,
  vocab_size: 512,
  max_position_embeddings: 512,
  rms_norm_eps: 1e-5,
  tie_word_embeddings: true,
  hidden_act: 'silu',
};
const STORIES = parseModelSpec(STORIES_CONFIG);

describe('the batch-size rule', () => {
  it('counts K/V, kept logits, attention and MLP of one sequence', () => {
    const T = 100;
    const kv = 2 * 2 * 5 * 4 * 8 * T * 4;
    // A batched row keeps the logits of its last position or of its option's few tokens.
    const logits = KEPT_LOGITS * 512 * 4;
    const attention = 2 * 8 * T * T * 4;
    const mlp = 3 * T * 172 * 4;
    expect(bytesPerSequence(STORIES, T)).toBe(kv + logits + attention + mlp);
    expect(bytesPerSequence(STORIES, 2 * T)).toBeGreaterThan(2 * bytesPerSequence(STORIES, T));
    expect(bytesPerSequence(STORIES, 3) - bytesPerSequence(STORIES, 2)).toBeGreaterThan(512 * 4);
  });

  it("bounds a pass that keeps every position's logits by them", () => {
    const spec = smollm2Spec(30);
    // 256 MiB over 500 positions × 49,152 logits × 4 bytes: two rows.
    expect(logitRows(spec, 'wasm', 500)).toBe(Math.floor(BATCH_BUDGET_BYTES.wasm / (500 * spec.vocabSize * 4)));
    expect(logitRows(spec, 'wasm', 500)).toBe(2);
    expect(logitRows(spec, 'webgpu', 500)).toBe(10);
    expect(logitRows(spec, 'wasm', 100_000)).toBe(1);
    expect(logitRows(STORIES, 'wasm', 500)).toBeGreaterThan(BATCH_CAP.wasm);
  });

  it('gives a tiny model the device cap', () => {
    expect(chooseBatchSize(STORIES, 'wasm', 100)).toBe(BATCH_CAP.wasm);
    expect(chooseBatchSize(STORIES, 'webgpu', 100)).toBe(BATCH_CAP.webgpu);
    // Longer sequences of the same model: the memory budget, not the cap, decides.
    const long = chooseBatchSize(STORIES, 'wasm', 544);
    expect(long).toBe(Math.floor(BATCH_BUDGET_BYTES.wasm / bytesPerSequence(STORIES, 544)));
    expect(long).toBeLessThan(BATCH_CAP.wasm);
  });

  it('caps WASM batches by how much arithmetic a row adds to a step', () => {
    // Five layers of q, k, v, o and the MLP, and the tied LM head.
    expect(macsPerToken(STORIES)).toBe(5 * (64 * 64 + 2 * 64 * 32 + 64 * 64 + 3 * 64 * 172) + 512 * 64);
    expect(batchCap(STORIES, 'wasm')).toBe(BATCH_CAP.wasm);
    // SmolLM2-135M (and its 4-layer shape, whose LM head alone is 28M multiply-adds) keep the old cap of 8.
    expect(batchCap(smollm2Spec(30), 'wasm')).toBe(WASM_MIN_CAP);
    expect(batchCap(smollm2Spec(4), 'wasm')).toBe(WASM_MIN_CAP);
    // In between, a power of two that shrinks as the model grows.
    const mid = parseModelSpec({ ...STORIES_CONFIG, hidden_size: 128, intermediate_size: 344, head_dim: 16 });
    expect(batchCap(mid, 'wasm')).toBe(32);
    expect(batchCap(mid, 'wasm')).toBeLessThan(batchCap(STORIES, 'wasm'));
    expect(batchCap(smollm2Spec(30), 'webgpu')).toBe(BATCH_CAP.webgpu);
  });

  it('fits the budget when sequences are long and the vocabulary large', () => {
    const spec = smollm2Spec(30);
    for (const tokens of [256, 1024, 2048]) {
      const n = chooseBatchSize(spec, 'wasm', tokens);
      const fits = Math.floor(BATCH_BUDGET_BYTES.wasm / bytesPerSequence(spec, tokens));
      expect(n).toBe(Math.max(1, Math.min(batchCap(spec, 'wasm'), fits)));
      if (n > 1) expect(n * bytesPerSequence(spec, tokens)).toBeLessThanOrEqual(BATCH_BUDGET_BYTES.wasm);
    }
    // Longer sequences never get more rows, and one row always runs.
    expect(chooseBatchSize(spec, 'wasm', 2048)).toBeLessThan(chooseBatchSize(spec, 'wasm', 256));
    expect(chooseBatchSize(spec, 'wasm', 8192)).toBe(1);
    expect(chooseBatchSize(spec, 'webgpu', 1024)).toBeGreaterThan(chooseBatchSize(spec, 'wasm', 1024));
  });

  it('takes a positive integer as an override and refuses anything else', () => {
    expect(checkBatchSize(undefined)).toBeUndefined();
    expect(checkBatchSize(1)).toBe(1);
    expect(checkBatchSize(12)).toBe(12);
    for (const bad of [0, -1, 2.5, NaN, 1000]) expect(() => checkBatchSize(bad)).toThrow(/batch size/);
  });
});

describe('per-row sampling', () => {
  it('draws by the tempered softmax, within the top k', () => {
    const logits = Float32Array.from([0, Math.log(3), -Infinity, Math.log(4)]);
    // Weights 1 : 3 : 0 : 4 of a total of 8.
    expect(sampleIndex(logits, 1, 0, 0.1)).toBe(0);
    expect(sampleIndex(logits, 1, 0, 0.2)).toBe(1);
    expect(sampleIndex(logits, 1, 0, 0.6)).toBe(3);
    // Top 1 is greedy whatever the draw; a low temperature nearly so.
    expect(sampleIndex(logits, 1, 1, 0.01)).toBe(3);
    expect(sampleIndex(logits, 0.01, 0, 0.05)).toBe(3);
    // Top 2 keeps 4 : 3, most likely first.
    expect(sampleIndex(logits, 1, 2, 0.5)).toBe(3);
    expect(sampleIndex(logits, 1, 2, 0.6)).toBe(1);
  });

  it('over the whole vocabulary, picks the index the cumulative weights give (a top k as large changes nothing)', () => {
    let state = 12345;
    const rand = () => (state = (Math.imul(state, 1103515245) + 12345) >>> 0) / 2 ** 32;
    const logits = Float32Array.from({ length: 5000 }, () => (rand() - 0.5) * 12);
    const weights = Array.from(logits, (l) => Math.exp((l - Math.max(...logits)) / 0.7));
    const total = weights.reduce((a, b) => a + b, 0);
    for (let t = 0; t < 200; t++) {
      const u = rand();
      let k = 0;
      for (let acc = weights[0]; acc <= u * total && k < weights.length - 1; acc += weights[++k]);
      expect(sampleIndex(logits, 0.7, 0, u)).toBe(k);
      expect(sampleIndex(logits, 0.7, logits.length, u)).toBe(k);
    }
  });
});
