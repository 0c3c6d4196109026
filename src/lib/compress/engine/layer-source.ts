import { EMBED_TOKENS_WEIGHT, layerPrefix, type ModelSpec } from '../../model/spec';
import { firstNonFinite, NonFiniteError } from './finite';

/** Tensors of a checkpoint, read one decoder layer at a time. */
export interface LayerSource {
  /** Decoder layer `i`, keyed without the `model.layers.{i}.` prefix (as `WeightStore.layer`). */
  layer(i: number): Promise<Map<string, Float32Array>>;
  /** Any tensor by its full name (the embedding for the layer-0 inputs). */
  tensor(name: string): Promise<Float32Array>;
}

/** A `LayerSource` over tensors already in memory (random models, tests). */
export function mapSource(weights: ReadonlyMap<string, Float32Array>): LayerSource {
  return {
    async layer(i) {
      const p = layerPrefix(i);
      const out = new Map<string, Float32Array>();
      for (const [name, v] of weights) if (name.startsWith(p)) out.set(name.slice(p.length), v.slice());
      if (out.size === 0) throw new Error(`no tensors for layer ${i}`);
      return out;
    },
    async tensor(name) {
      const v = weights.get(name);
      if (!v) throw new Error(`missing tensor ${name}`);
      return v;
    },
  };
}

/** The layer-0 inputs: the embedding row of every calibration token, one [L, hidden] array per sample. */
export async function embedCalibration(
  spec: ModelSpec,
  source: LayerSource,
  calibration: readonly (readonly number[])[],
): Promise<Float32Array[]> {
  const H = spec.hiddenSize;
  const embed = await source.tensor(EMBED_TOKENS_WEIGHT);
  if (embed.length !== spec.vocabSize * H) throw new Error(`${EMBED_TOKENS_WEIGHT}: expected ${spec.vocabSize * H} values`);
  return calibration.map((ids, s) => {
    const x = new Float32Array(ids.length * H);
    ids.forEach((id, t) => {
      if (!(Number.isInteger(id) && id >= 0 && id < spec.vocabSize))
        throw new Error(`calibration sample ${s} holds token id ${id}, outside the vocabulary of ${spec.vocabSize}`);
      const row = embed.subarray(id * H, (id + 1) * H);
      const bad = firstNonFinite(row);
      if (bad >= 0)
        throw new NonFiniteError(
          `${EMBED_TOKENS_WEIGHT} holds ${row[bad]} in the row of token ${id} (element ${bad}), used by calibration sample ${s}`,
        );
      x.set(row, t * H);
    });
    return x;
  });
}
