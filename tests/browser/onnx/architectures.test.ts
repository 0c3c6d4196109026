import { describe, expect, it } from 'vitest';
import { parseModelSpec } from '../../../src/lib/model/config';
import { llamaBlock, type ModelSpec } from '../../../src/lib/model/spec';
import { buildCausalLm } from '../../../src/lib/onnx/decoder';
import { hfForward, meanNll, type Feature } from '../../reference/hf-decoder';
import { featuresOf, tinyCheckpoint, tinyIds, type TinyKind } from '../../reference/tiny-checkpoints';
import { createSession, maxAbsDiff, runLogits, type Ep } from './ort-helpers';

/**
 * Llama-3 RoPE scaling, Qwen3 and Gemma 3 graphs against an independent forward pass written
 * from the published formulas (tests/reference), on both execution providers; then the same
 * weights through a graph with each feature switched off, which must miss by far more.
 */
const KINDS: TinyKind[] = ['llama3-scaling', 'qwen3', 'gemma3', 'gemma3-v5-rope'];
const NLL_TOL = 1e-3;
const LOGIT_TOL = 1e-2;

/** The spec as a graph builder lacking `feature` would read it. */
function without(spec: ModelSpec, feature: Feature): ModelSpec {
  const block = { ...spec.block };
  switch (feature) {
    case 'rope-scaling':
      return { ...spec, rope: { ...spec.rope, scaling: null } };
    case 'qk-norm':
      return { ...spec, block: { ...block, qkNorm: false } };
    case 'sliding-window':
      return { ...spec, layerKinds: spec.layerKinds.map(() => 'full'), localRope: null, slidingWindow: null };
    case 'local-rope':
      return { ...spec, localRope: null };
    case 'gemma-norm':
      return { ...spec, block: { ...block, normOffset: 0 } };
    case 'embed-scale':
      return { ...spec, block: { ...block, embedScale: 1 } };
    case 'attn-scale':
      return { ...spec, block: { ...block, attnScale: llamaBlock(spec.headDim).attnScale } };
  }
}

describe.each(KINDS)('%s', (kind) => {
  const { config, weights } = tinyCheckpoint(kind, 7);
  const spec = parseModelSpec(config);
  const ids = tinyIds(12, 8, spec.vocabSize);
  const ref = hfForward(config, weights, ids);
  const refNll = meanNll(ref, ids, spec.vocabSize);

  for (const ep of ['wasm', 'webgpu'] as Ep[]) {
    it(`matches the reference on ${ep}: NLL within ${NLL_TOL} nats, logits within ${LOGIT_TOL}`, async () => {
      const session = await createSession(buildCausalLm(spec, weights), ep);
      const logits = await runLogits(session, spec, ids);
      await session.release();
      const dLogit = maxAbsDiff(logits, ref);
      const dNll = Math.abs(meanNll(logits, ids, spec.vocabSize) - refNll);
      console.log(`${kind} ${ep}: max|Δlogit| ${dLogit.toExponential(2)}, |ΔNLL| ${dNll.toExponential(2)} (NLL ${refNll.toFixed(4)})`);
      expect(dLogit).toBeLessThan(LOGIT_TOL);
      expect(dNll).toBeLessThan(NLL_TOL);
    });
  }

  it.each(featuresOf(kind))('a graph without %s misses the reference by far more', async (feature) => {
    const session = await createSession(buildCausalLm(without(spec, feature), weights), 'wasm');
    const logits = await runLogits(session, spec, ids);
    await session.release();
    const dLogit = maxAbsDiff(logits, ref);
    console.log(`${kind} without ${feature}: max|Δlogit| ${dLogit.toExponential(2)}`);
    expect(dLogit).toBeGreaterThan(10 * LOGIT_TOL);
  });
});

describe.each(KINDS)('%s as an fp16-weight graph', (kind) => {
  const { config, weights } = tinyCheckpoint(kind, 7);
  const spec = parseModelSpec(config);
  const ids = tinyIds(12, 8, spec.vocabSize);
  const ref = hfForward(config, weights, ids);
  const refNll = meanNll(ref, ids, spec.vocabSize);

  it(`matches the reference on WASM within the same bars (NLL ${NLL_TOL}, logits ${LOGIT_TOL}) at half the weight bytes`, async () => {
    const fp16 = buildCausalLm(spec, weights, { precision: 'fp16' });
    const fp32 = buildCausalLm(spec, weights);
    const bytes = (g: typeof fp16) => g.externalData.reduce((s, f) => s + f.data.byteLength, 0);
    const session = await createSession(fp16, 'wasm');
    const logits = await runLogits(session, spec, ids);
    await session.release();
    const dLogit = maxAbsDiff(logits, ref);
    const dNll = Math.abs(meanNll(logits, ids, spec.vocabSize) - refNll);
    console.log(
      `${kind} fp16 wasm: max|Δlogit| ${dLogit.toExponential(2)}, |ΔNLL| ${dNll.toExponential(2)}, bytes ${bytes(fp16)} vs ${bytes(fp32)}`,
    );
    expect(dLogit).toBeLessThan(LOGIT_TOL);
    expect(dNll).toBeLessThan(NLL_TOL);
    expect(bytes(fp16)).toBeLessThan(0.6 * bytes(fp32));
  });
});
