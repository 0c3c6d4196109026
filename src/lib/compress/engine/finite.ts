import { LINEAR_IDS, layerPrefix, tapWidth, type BlockTap, type LinearId, type ModelSpec } from '../../model/spec';
import { LINEAR_INPUT } from '../reference/block';

/** A weight or activation that is NaN or infinite, named so the user can find it. */
export class NonFiniteError extends Error {
  override name = 'NonFiniteError';
}

export function firstNonFinite(a: ArrayLike<number>): number {
  // x − x is 0 for every finite x and NaN otherwise: one branch-free pass (1.5× faster than
  // testing each entry; every calibration activation goes through here) says whether to look.
  let acc = 0;
  for (let i = 0; i < a.length; i++) acc += a[i] - a[i];
  if (acc === 0) return -1;
  for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i])) return i;
  return -1;
}

function consumers(tap: BlockTap): string {
  return LINEAR_IDS.filter((l) => LINEAR_INPUT[l] === tap).join('/');
}

/** Refuses a layer whose checkpoint tensors hold NaN or infinity. */
export function checkLayerTensors(layer: number, lw: ReadonlyMap<string, Float32Array>): void {
  for (const [name, v] of lw) {
    const bad = firstNonFinite(v);
    if (bad >= 0)
      throw new NonFiniteError(
        `layer ${layer}: ${layerPrefix(layer)}${name} holds ${v[bad]} at element ${bad}; the checkpoint is corrupt, refusing to compress it`,
      );
  }
}

/** Refuses hidden states entering a layer that hold NaN or infinity (an earlier layer overflowed). */
export function checkHidden(spec: ModelSpec, layer: number, hidden: readonly Float32Array[]): void {
  const H = spec.hiddenSize;
  hidden.forEach((x, s) => {
    const bad = firstNonFinite(x);
    if (bad >= 0)
      throw new NonFiniteError(
        `layer ${layer}: the calibration hidden states entering the layer hold ${x[bad]} (sample ${s}, token ${Math.floor(bad / H)}, channel ${bad % H})${layer > 0 ? `: layer ${layer - 1} overflowed on this calibration batch` : ''}`,
      );
  });
}

/** Checks a block output used as calibration input; names the layer, the linear and the sample. */
export function checkActivations(spec: ModelSpec, layer: number, tap: BlockTap, x: Float32Array, sample: number): void {
  const bad = firstNonFinite(x);
  if (bad < 0) return;
  const cols = tapWidth(spec, tap);
  throw new NonFiniteError(
    `layer ${layer}: the calibration activations entering ${consumers(tap)} hold ${x[bad]} (sample ${sample}, token ${Math.floor(bad / cols)}, channel ${bad % cols}); a weight of layer ${layer} or an earlier layer overflows on this calibration batch`,
  );
}

/** Statistics that overflowed fp32 although every activation was finite. */
export function checkStatistic(layer: number, what: string, tap: BlockTap, v: Float32Array): Float32Array {
  const bad = firstNonFinite(v);
  if (bad < 0) return v;
  let peak = 0;
  for (const x of v) if (Number.isFinite(x)) peak = Math.max(peak, Math.abs(x));
  throw new NonFiniteError(
    `layer ${layer}: the ${what} of the calibration activations entering ${consumers(tap)} overflowed fp32 (${v[bad]} at element ${bad}; largest finite entry ${peak.toExponential(2)}); a weight of layer ${layer} or an earlier layer is far too large for this calibration batch`,
  );
}

/** Refuses a compressed weight that came out NaN or infinite. */
export function checkCompressed(layer: number, l: LinearId, data: Float32Array): void {
  const bad = firstNonFinite(data);
  if (bad >= 0) throw new NonFiniteError(`layer ${layer}: compressing ${l} produced ${data[bad]} at element ${bad}`);
}
