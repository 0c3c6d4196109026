import { describe, expect, it } from 'vitest';
import type { ModelSpec } from '../../../src/lib/model/spec';
import { BLOCK_TAPS, buildCausalLm, buildDecoderBlock } from '../../../src/lib/onnx/decoder';
import { referenceBlock, referenceForward } from '../../reference/reference-forward';
import {
  createSession,
  float32,
  floats,
  fullSequenceFeeds,
  int64,
  logitsToKeep,
  noPrefixFeeds,
  relMaxDiff,
  runLogits,
  type Ep,
  type ort,
} from './ort-helpers';
import { randomIds, randomWeights, tinySpec } from './model-helpers';

/** Qwen2-like: q/k/v bias, untied lm_head, large theta, GQA 2. */
const QWEN2_LIKE = tinySpec({
  modelType: 'qwen2',
  architecture: 'Qwen2ForCausalLM',
  hiddenSize: 64,
  numHeads: 4,
  numKvHeads: 2,
  headDim: 16,
  intermediateSize: 96,
  vocabSize: 160,
  theta: 1_000_000,
  rmsNormEps: 1e-6,
  tiedEmbeddings: false,
  qkvBias: true,
});

/** SmolLM2-135M's attention (9 heads, 3 KV heads, head_dim 64, hidden 576), fewer layers, small MLP and vocab. */
const SMOLLM2_LIKE = tinySpec({
  hiddenSize: 576,
  numHeads: 9,
  numKvHeads: 3,
  headDim: 64,
  intermediateSize: 256,
  vocabSize: 192,
  theta: 100_000,
  maxPositions: 8192,
  tiedEmbeddings: true,
});

const CASES: [string, ModelSpec, number][] = [
  ['qwen2-like (qkv bias, untied head)', QWEN2_LIKE, 11],
  ['smollm2-like (GQA ratio 3)', SMOLLM2_LIKE, 12],
];

// Relative to the largest reference magnitude; fp32 with a different summation order.
const TOL: Record<Ep, number> = { wasm: 1e-5, webgpu: 2e-5 };

describe.each(CASES)('%s', (_, spec, seed) => {
  const weights = randomWeights(spec, seed);
  const ids = randomIds(7, spec.vocabSize, seed + 100);
  const ref = referenceForward(spec, weights, ids);
  const graph = buildCausalLm(spec, weights);

  for (const ep of ['wasm', 'webgpu'] as Ep[]) {
    it(`logits match the TS reference on ${ep}`, async () => {
      const session = await createSession(graph, ep);
      const logits = await runLogits(session, spec, ids);
      const err = relMaxDiff(logits, ref.logits);
      console.log(`${spec.architecture} H${spec.hiddenSize} ${ep}: logits rel max|Δ| ${err.toExponential(2)}`);
      expect(err).toBeLessThan(TOL[ep]);
      await session.release();
    });
  }

  it('continuing from a KV cache (prefill 4, then 3 tokens at once) gives the same logits (wasm)', async () => {
    const session = await createSession(graph, 'wasm');
    const V = spec.vocabSize;
    const first = await session.run(fullSequenceFeeds(spec, ids.slice(0, 4)));
    const feeds: Record<string, ort.Tensor> = {
      input_ids: int64(ids.slice(4), [1, 3]),
      attention_mask: int64(new Array(7).fill(1), [1, 7]),
      position_ids: int64([4, 5, 6], [1, 3]),
      num_logits_to_keep: logitsToKeep(0),
      ...noPrefixFeeds(spec),
    };
    for (let i = 0; i < spec.numLayers; i++) {
      feeds[`past_key_values.${i}.key`] = first[`present.${i}.key`];
      feeds[`past_key_values.${i}.value`] = first[`present.${i}.value`];
    }
    const second = await session.run(feeds);
    expect(second[`present.0.key`].dims).toEqual([1, spec.numKvHeads, 7, spec.headDim]);
    const logits = new Float32Array(7 * V);
    logits.set(await floats(first.logits), 0);
    logits.set(await floats(second.logits), 4 * V);
    expect(relMaxDiff(logits, ref.logits)).toBeLessThan(TOL.wasm);
    await session.release();
  });

  for (const ep of ['wasm', 'webgpu'] as Ep[]) {
    it(`a prefix held once in prefix_key_values gives every row what the prefix in its own past gives, and new_key_values the pass's part of present (${ep})`, async () => {
      const session = await createSession(graph, ep);
      const V = spec.vocabSize;
      const P = 4;
      const first = await session.run(fullSequenceFeeds(spec, ids.slice(0, P)));
      const prefix: Record<string, ort.Tensor> = {};
      for (let i = 0; i < spec.numLayers; i++)
        for (const kind of ['key', 'value']) prefix[`prefix_key_values.${i}.${kind}`] = first[`present.${i}.${kind}`];
      // Row 0: the last 3 tokens; row 1: 2 other tokens, left-padded to 3.
      const own = [ids.slice(P), [ids[1], ids[0]]];
      const batch: Record<string, ort.Tensor> = {
        ...prefix,
        input_ids: int64([...own[0], 0, ...own[1]], [2, 3]),
        attention_mask: int64([1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1], [2, 7]),
        position_ids: int64([4, 5, 6, 4, 4, 5], [2, 3]),
        num_logits_to_keep: logitsToKeep(0),
      };
      for (let i = 0; i < spec.numLayers; i++)
        for (const kind of ['key', 'value'])
          batch[`past_key_values.${i}.${kind}`] = float32(new Float32Array(0), [2, spec.numKvHeads, 0, spec.headDim]);
      const out = await session.run(batch);
      // The cache it returns is each row's own tokens only.
      expect(out['present.0.key'].dims).toEqual([2, spec.numKvHeads, 3, spec.headDim]);
      const logits = await floats(out.logits);
      // Each row alone, the prefix in its past.
      const alone = async (tokens: number[]) => {
        const feeds: Record<string, ort.Tensor> = {
          ...noPrefixFeeds(spec),
          input_ids: int64(tokens, [1, tokens.length]),
          attention_mask: int64(new Array(P + tokens.length).fill(1), [1, P + tokens.length]),
          position_ids: int64(
            tokens.map((_, j) => P + j),
            [1, tokens.length],
          ),
          num_logits_to_keep: logitsToKeep(0),
        };
        for (let i = 0; i < spec.numLayers; i++)
          for (const kind of ['key', 'value']) feeds[`past_key_values.${i}.${kind}`] = first[`present.${i}.${kind}`];
        const result = await session.run(feeds);
        // new_key_values: what present appends to the past, position for position.
        const S = tokens.length;
        for (let i = 0; i < spec.numLayers; i++)
          for (const kind of ['key', 'value']) {
            const present = await floats(result[`present.${i}.${kind}`]);
            const fresh = result[`new_key_values.${i}.${kind}`];
            expect(fresh.dims).toEqual([1, spec.numKvHeads, S, spec.headDim]);
            const tail = Array.from({ length: spec.numKvHeads }, (_, h) =>
              Array.from(present.subarray((h * (P + S) + P) * spec.headDim, (h + 1) * (P + S) * spec.headDim)),
            ).flat();
            expect(Array.from(await floats(fresh))).toEqual(tail);
          }
        return floats(result.logits);
      };
      const row0 = logits.subarray(0, 3 * V);
      const row1 = logits.subarray(4 * V, 6 * V);
      if (ep === 'wasm') {
        // The same dot products and sums as with one cache: equal, not just close.
        expect(row0).toEqual(await alone(own[0]));
        expect(row1).toEqual(await alone(own[1]));
      } else {
        expect(relMaxDiff(row0, await alone(own[0]))).toBeLessThan(TOL[ep]);
        expect(relMaxDiff(row1, await alone(own[1]))).toBeLessThan(TOL[ep]);
      }
      expect(relMaxDiff(row0, ref.logits.subarray(P * V))).toBeLessThan(TOL[ep]);
      await session.release();
    });
  }

  it('num_logits_to_keep k gives the logits of the last k positions only (wasm)', async () => {
    const session = await createSession(graph, 'wasm');
    const V = spec.vocabSize;
    for (const k of [1, 3, ids.length]) {
      const out = await session.run(fullSequenceFeeds(spec, ids, k));
      expect(out.logits.dims).toEqual([1, k, V]);
      const logits = await floats(out.logits);
      expect(relMaxDiff(logits, ref.logits.subarray((ids.length - k) * V))).toBeLessThan(TOL.wasm);
      // The cache still covers every position.
      expect(out['present.0.key'].dims).toEqual([1, spec.numKvHeads, ids.length, spec.headDim]);
    }
    await session.release();
  });

  it('left padding in a batch leaves the padded row unchanged (wasm)', async () => {
    const session = await createSession(graph, 'wasm');
    const V = spec.vocabSize;
    const short = ids.slice(0, 5);
    const pad = ids.length - short.length;
    const feeds = fullSequenceFeeds(spec, ids);
    const batch = (t: number[]): number[] => [...ids.map((_, i) => t[i] ?? 0)];
    feeds.input_ids = int64([...ids, ...batch([...new Array(pad).fill(0), ...short])], [2, ids.length]);
    feeds.attention_mask = int64([...ids.map(() => 1), ...ids.map((_, i) => (i < pad ? 0 : 1))], [2, ids.length]);
    // transformers.js: cumsum(mask) − 1, padding at 1.
    feeds.position_ids = int64([...ids.map((_, i) => i), ...ids.map((_, i) => (i < pad ? 1 : i - pad))], [2, ids.length]);
    for (let i = 0; i < spec.numLayers; i++) {
      for (const kind of ['key', 'value'])
        feeds[`past_key_values.${i}.${kind}`] = float32(new Float32Array(0), [2, spec.numKvHeads, 0, spec.headDim]);
    }
    const out = await session.run(feeds);
    const logits = await floats(out.logits);
    expect(relMaxDiff(logits.subarray(0, ids.length * V), ref.logits)).toBeLessThan(TOL.wasm);
    const shortRef = referenceForward(spec, weights, short).logits;
    const padded = logits.subarray((ids.length + pad) * V, 2 * ids.length * V);
    expect(relMaxDiff(padded, shortRef)).toBeLessThan(TOL.wasm);
    expect(padded.every(Number.isFinite)).toBe(true);
    await session.release();
  });

  for (const ep of ['wasm', 'webgpu'] as Ep[]) {
    it(`the decoder block keeps RoPE accurate near max_position_embeddings on ${ep}`, async () => {
      const layer = 0;
      const S = 5;
      const hidden = ref.hiddenStates[1].subarray(0, S * spec.hiddenSize);
      const positions = Array.from({ length: S }, (_, i) => spec.maxPositions - 1 - 3 * (S - 1 - i));
      const expected = referenceBlock(spec, layer, weights, hidden, positions);
      const session = await createSession(buildDecoderBlock(spec, layer, weights), ep);
      const out = await session.run({ hidden_states: float32(hidden, [1, S, spec.hiddenSize]), position_ids: int64(positions, [1, S]) });
      const err = relMaxDiff(await floats(out.o_proj_in), expected.o_proj_in);
      console.log(`${spec.architecture} positions ${positions[0]}…${positions[S - 1]} ${ep}: o_proj_in rel max|Δ| ${err.toExponential(2)}`);
      expect(err).toBeLessThan(TOL[ep]);
      await session.release();
    });

    it(`the decoder block graph matches the reference block and its linear inputs on ${ep}`, async () => {
      const layer = spec.numLayers - 1;
      const S = ids.length;
      const hidden = ref.hiddenStates[layer];
      const positions = ids.map((_, i) => i);
      const expected = referenceBlock(spec, layer, weights, hidden, positions);
      const session = await createSession(buildDecoderBlock(spec, layer, weights), ep);
      expect([...session.outputNames].sort()).toEqual(['hidden_states_out', ...BLOCK_TAPS].sort());
      const out = await session.run({ hidden_states: float32(hidden, [1, S, spec.hiddenSize]), position_ids: int64(positions, [1, S]) });
      const got = await floats(out.hidden_states_out);
      expect(relMaxDiff(got, expected.out)).toBeLessThan(TOL[ep]);
      expect(relMaxDiff(got, ref.hiddenStates[layer + 1])).toBeLessThan(TOL[ep]);
      const errs: string[] = [];
      for (const tap of BLOCK_TAPS) {
        const err = relMaxDiff(await floats(out[tap]), expected[tap]);
        errs.push(`${tap} ${err.toExponential(2)}`);
        expect(err, tap).toBeLessThan(TOL[ep]);
      }
      console.log(`${spec.architecture} block ${layer} ${ep}: ${errs.join(', ')}`);
      await session.release();
    });
  }
});
