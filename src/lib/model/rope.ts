import type { RopeSpec } from './spec';

/**
 * RoPE inverse frequencies as Hugging Face computes them in float32: 1 / theta^(2j/d), then
 * the scaling's adjustment (`linear`: all ÷ factor; `llama3`: long wavelengths ÷ factor, short
 * ones kept, a smooth blend between).
 */
export function ropeInvFreq(headDim: number, rope: RopeSpec): Float32Array {
  const half = headDim / 2;
  const out = new Float32Array(half);
  for (let j = 0; j < half; j++) out[j] = Math.fround(1 / Math.fround(Math.pow(rope.theta, Math.fround((2 * j) / headDim))));
  const s = rope.scaling;
  if (s?.type === 'linear') {
    for (let j = 0; j < half; j++) out[j] = Math.fround(out[j] / s.factor);
  } else if (s?.type === 'llama3') {
    const lowWavelen = s.originalMaxPositions / s.lowFreqFactor;
    const highWavelen = s.originalMaxPositions / s.highFreqFactor;
    for (let j = 0; j < half; j++) {
      const f = out[j];
      const wavelen = (2 * Math.PI) / f;
      if (wavelen > lowWavelen) out[j] = Math.fround(f / s.factor);
      else if (wavelen >= highWavelen) {
        const smooth = (s.originalMaxPositions / wavelen - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor);
        out[j] = Math.fround((1 - smooth) * (f / s.factor) + smooth * f);
      }
    }
  }
  return out;
}
