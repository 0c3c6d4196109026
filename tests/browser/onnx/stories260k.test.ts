import { beforeAll, describe, expect, it } from 'vitest';
import type { ModelSpec } from '../../../src/lib/model/spec';
import { buildCausalLm, type CausalLmGraph } from '../../../src/lib/onnx/decoder';
import { meanNextTokenNll, referenceForward } from '../../reference/reference-forward';
import { createSession, greedy, maxAbsDiff, runLogits, type Ep } from './ort-helpers';
import { parseSafetensorsF32, specFromConfig, type HfLlamaConfig } from './model-helpers';

const STORIES = '/models/stories260k';

interface Reference {
  greedy: { prompt_ids: number[]; ids: number[] };
  nll: { ids: number[]; mean_nll_nats: number; last_logits_first8: number[] };
}

async function fetchOk(path: string): Promise<Response> {
  const res = await fetch(path);
  if (!res.ok) throw new Error(`${path}: HTTP ${res.status}`);
  return res;
}

describe('stories260k through the ONNX graph', () => {
  let spec: ModelSpec;
  let weights: Map<string, Float32Array>;
  let ref: Reference;
  let graph: CausalLmGraph;

  beforeAll(async () => {
    spec = specFromConfig((await (await fetchOk(`${STORIES}/config.json`)).json()) as HfLlamaConfig);
    ref = (await (await fetchOk(`${STORIES}/reference.json`)).json()) as Reference;
    weights = parseSafetensorsF32(new Uint8Array(await (await fetchOk(`${STORIES}/model.safetensors`)).arrayBuffer()));
    graph = buildCausalLm(spec, weights);
  });

  it('writes the weights to one external data file named as transformers.js expects', () => {
    expect(graph.externalData.map((f) => f.path)).toEqual(['model.onnx_data']);
    expect(graph.externalDataChunks).toBe(1);
  });

  it('matches the reference NLL and last logits on wasm, and the TS reference forward', async () => {
    const session = await createSession(graph, 'wasm');
    expect(session.inputNames.slice(0, 3)).toEqual(['input_ids', 'attention_mask', 'position_ids']);
    expect(session.outputNames[0]).toBe('logits');
    expect(session.outputNames).toContain(`present.${spec.numLayers - 1}.value`);
    const ids = ref.nll.ids;
    const V = spec.vocabSize;
    const logits = await runLogits(session, spec, ids);
    const nll = meanNextTokenNll(logits, ids, V);
    const last8 = Array.from(logits.subarray((ids.length - 1) * V, (ids.length - 1) * V + 8));
    const nllErr = Math.abs(nll - ref.nll.mean_nll_nats);
    const last8Err = maxAbsDiff(last8, ref.nll.last_logits_first8);
    const tsRef = referenceForward(spec, weights, ids);
    const tsErr = maxAbsDiff(logits, tsRef.logits);
    const tsNllErr = Math.abs(meanNextTokenNll(tsRef.logits, ids, V) - ref.nll.mean_nll_nats);
    console.log(
      `stories260k wasm: nll ${nll.toFixed(6)} (ref ${ref.nll.mean_nll_nats.toFixed(6)}, |Δ| ${nllErr.toExponential(2)}), last8 max|Δ| ${last8Err.toExponential(2)}, graph vs TS reference max|Δ| ${tsErr.toExponential(2)}, TS reference nll |Δ| ${tsNllErr.toExponential(2)}`,
    );
    expect(nllErr).toBeLessThan(2e-3);
    expect(last8Err).toBeLessThan(1e-3);
    expect(tsErr).toBeLessThan(1e-3);
    expect(tsNllErr).toBeLessThan(2e-3);
    await session.release();
  });

  for (const ep of ['wasm', 'webgpu'] as Ep[]) {
    it(`reproduces the reference greedy continuation with the KV cache on ${ep}`, async () => {
      const session = await createSession(graph, ep);
      const newTokens = ref.greedy.ids.length - ref.greedy.prompt_ids.length;
      const ids = await greedy(session, spec, ref.greedy.prompt_ids, newTokens);
      expect(newTokens).toBe(40);
      expect(ids).toEqual(ref.greedy.ids);
      await session.release();
    });
  }
});
