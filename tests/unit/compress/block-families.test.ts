import { describe, expect, it } from 'vitest';
import { foldIntoNorm, scaleColumns } from '../../../src/lib/compress/reference/awq';
import { blockForward, linearF32, rmsNorm, type LayerTensors } from '../../../src/lib/compress/reference/block';
import { compressLayers } from '../../../src/lib/compress/engine/driver';
import { mapSource } from '../../../src/lib/compress/engine/layer-source';
import type { LayerOutput } from '../../../src/lib/compress/engine/report';
import { resolveSettings, type CompressSettings } from '../../../src/lib/compress/reference/settings';
import { matrix } from '../../../src/lib/compress/reference/types';
import { parseModelSpec } from '../../../src/lib/model/config';
import type { ModelSpec } from '../../../src/lib/model/spec';
import { hfForward, meanNll } from '../../reference/hf-decoder';
import { tinyCheckpoint, tinyIds, type TinyKind } from '../../reference/tiny-checkpoints';

/** Layer `i`'s tensors keyed as the calibration driver sees them. */
function layerTensors(weights: ReadonlyMap<string, Float32Array>, i: number): Map<string, Float32Array> {
  const prefix = `model.layers.${i}.`;
  return new Map([...weights].filter(([n]) => n.startsWith(prefix)).map(([n, v]) => [n.slice(prefix.length), v]));
}

/** Logits through the calibration driver's TypeScript block forward, layer by layer. */
function blockLogits(
  spec: ModelSpec,
  weights: ReadonlyMap<string, Float32Array>,
  ids: number[],
  lw: (i: number) => LayerTensors = (i) => layerTensors(weights, i),
) {
  const { hiddenSize: H, vocabSize: V } = spec;
  const S = ids.length;
  const embed = weights.get('model.embed_tokens.weight')!;
  let x: Float32Array = new Float32Array(S * H);
  ids.forEach((id, s) => {
    for (let j = 0; j < H; j++) x[s * H + j] = embed[id * H + j] * Math.fround(spec.block.embedScale);
  });
  for (let i = 0; i < spec.numLayers; i++) x = blockForward(spec, i, lw(i), x, S).out!;
  const normed = rmsNorm(x, weights.get('model.norm.weight')!, S, H, spec.rmsNormEps, spec.block.normOffset);
  return linearF32(normed, spec.tiedEmbeddings ? embed : weights.get('lm_head.weight')!, S, H, V);
}

function maxAbs(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

const KINDS: TinyKind[] = ['llama3-scaling', 'qwen3', 'gemma3', 'gemma3-v5-rope'];

describe.each(KINDS)('calibration block forward on %s', (kind) => {
  const { config, weights } = tinyCheckpoint(kind, 3);
  const spec = parseModelSpec(config);
  const ids = tinyIds(12, 4, spec.vocabSize);
  const ref = hfForward(config, weights, ids);

  it('matches the independent reference', () => {
    const logits = blockLogits(spec, weights, ids);
    expect(maxAbs(logits, ref)).toBeLessThan(1e-4);
    expect(Math.abs(meanNll(logits, ids, spec.vocabSize) - meanNll(ref, ids, spec.vocabSize))).toBeLessThan(1e-5);
  });

  it('AWQ scale folding into the norms that feed q/k/v and gate/up leaves the function unchanged', () => {
    const { norms, normOffset } = spec.block;
    const H = spec.hiddenSize;
    const s = Float32Array.from({ length: H }, (_, j) => 0.5 + ((j * 37) % 11) / 10);
    const folded = (i: number): Map<string, Float32Array> => {
      const lw = layerTensors(weights, i);
      const scale = (name: string, rows: number) => lw.set(name, scaleColumns(matrix(rows, H, lw.get(name)!), s).data);
      lw.set(`${norms.attnIn}.weight`, foldIntoNorm(lw.get(`${norms.attnIn}.weight`)!, s, normOffset));
      for (const p of ['q_proj', 'k_proj', 'v_proj']) scale(`self_attn.${p}.weight`, lw.get(`self_attn.${p}.weight`)!.length / H);
      lw.set(`${norms.mlpIn}.weight`, foldIntoNorm(lw.get(`${norms.mlpIn}.weight`)!, s, normOffset));
      for (const p of ['gate_proj', 'up_proj']) scale(`mlp.${p}.weight`, spec.intermediateSize);
      return lw;
    };
    expect(maxAbs(blockLogits(spec, weights, ids, folded), ref)).toBeLessThan(1e-3);
    if (norms.attnOut) {
      // Folding into the post-attention norm (which feeds no scaled linear on Gemma) breaks it.
      const wrong = (i: number): Map<string, Float32Array> => {
        const lw = folded(i);
        lw.set(`${norms.mlpIn}.weight`, layerTensors(weights, i).get(`${norms.mlpIn}.weight`)!);
        lw.set(`${norms.attnOut}.weight`, foldIntoNorm(lw.get(`${norms.attnOut}.weight`)!, s, normOffset));
        return lw;
      };
      expect(maxAbs(blockLogits(spec, weights, ids, wrong), ref)).toBeGreaterThan(0.1);
    }
  });
});

describe.each<TinyKind>(['qwen3', 'gemma3'])('calibration driver on %s', { timeout: 60_000 }, (kind) => {
  const { config, weights } = tinyCheckpoint(kind, 5);
  const spec = parseModelSpec(config);
  const ids = tinyIds(12, 6, spec.vocabSize);
  const dense = hfForward(config, weights, ids);
  const calibration = Array.from({ length: 4 }, (_, k) => tinyIds(16, 20 + k, spec.vocabSize));

  const errorOf = async (settings: CompressSettings) => {
    const outs: LayerOutput[] = [];
    await compressLayers({
      spec,
      source: mapSource(weights),
      calibration,
      settings: resolveSettings(settings),
      onLayer: (o) => void outs.push(o),
    });
    expect(outs.map((o) => o.layer)).toEqual([...Array(spec.numLayers).keys()]);
    const perLayer = [...weights.keys()].filter((n) => n.startsWith('model.layers.0.')).length;
    for (const o of outs) expect(o.tensors.size).toBe(perLayer);
    const compressed = new Map(weights);
    for (const o of outs) for (const [n, v] of o.tensors) compressed.set(n, v);
    return maxAbs(blockLogits(spec, compressed, ids), dense);
  };

  it('RTN, GPTQ and AWQ at 8 bits keep every layer tensor and stay close to dense', async () => {
    const rtn = await errorOf({ method: 'rtn', bits: 8, groupSize: 16 });
    const gptq = await errorOf({ method: 'gptq', bits: 8, groupSize: 16 });
    const awq = await errorOf({ method: 'awq', bits: 8, groupSize: 16 });
    // 8 bits is close to lossless; AWQ's scales folded into the wrong norm would move logits by far more.
    expect(rtn).toBeLessThan(0.2);
    expect(gptq).toBeLessThan(0.2);
    expect(awq).toBeLessThan(2 * rtn);
  });
});
