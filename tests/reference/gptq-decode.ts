import { f16BitsToF32Bits } from '../../src/lib/model/safetensors';

/** bf16 by its definition: of v's two bf16 neighbours the nearer, on a tie the one with an even last bit (IEEE overflow past 2^128). */
export function bf16Nearest(v: number): number {
  const u = new Uint32Array(new Float32Array([v]).buffer);
  const below = u[0] & 0xffff0000;
  const f = (b: number) => new Float32Array(new Uint32Array([b >>> 0]).buffer)[0];
  const lo = f(below);
  const hi = f(below + 0x10000);
  const dLo = Math.abs(v - lo);
  const dHi = Math.abs((Number.isFinite(hi) ? hi : Math.sign(hi) * 2 ** 128) - v);
  if (dLo !== dHi) return dLo < dHi ? lo : hi;
  return ((below >>> 16) & 1) === 0 ? lo : hi;
}

/**
 * The [N, K] weights a GPTQ loader reconstructs, from the documented layout alone: qweight int32
 * [K·bits/32, N] packed along K (lowest bits first), qzeros int32 [groups, N·bits/32] packed along
 * N (the original format stores zero − 1, gptq_v2 the zero), scales fp16 [groups, N], g_idx [K].
 */
export function decodeGptq(
  t: { qweight: Int32Array; qzeros: Int32Array; scales: Uint16Array; gIdx: Int32Array },
  bits: number,
  K: number,
  N: number,
  format: 'gptq' | 'gptq_v2',
): Float32Array {
  const perWord = 32 / bits;
  const mask = 2 ** bits - 1;
  const half = (h: number) => new Float32Array(new Uint32Array([f16BitsToF32Bits(h)]).buffer)[0];
  const field = (word: number, i: number) => Math.floor((word >>> 0) / 2 ** (i * bits)) & mask;
  const out = new Float32Array(N * K);
  for (let n = 0; n < N; n++)
    for (let k = 0; k < K; k++) {
      const code = field(t.qweight[Math.floor(k / perWord) * N + n], k % perWord);
      const g = t.gIdx[k];
      const stored = field(t.qzeros[g * (N / perWord) + Math.floor(n / perWord)], n % perWord);
      const zero = format === 'gptq' ? stored + 1 : stored;
      out[n * K + k] = half(t.scales[g * N + n]) * (code - zero);
    }
  return out;
}
