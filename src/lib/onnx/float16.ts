/** The largest finite half-precision value. */
export const FLOAT16_MAX = 65504;

/** A weight that does not fit half precision: the graph must stay fp32 (or the tensor be rescaled). */
export class Float16RangeError extends Error {
  override name = 'Float16RangeError';
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** IEEE half bits of one fp32 value, rounded to nearest even (subnormals kept, overflow to ±inf). */
export function float32ToFloat16Bits(v: number): number {
  f32[0] = v;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  const mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0); // inf / NaN
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign; // below half the smallest subnormal
    const m = mant | 0x800000;
    const shift = 14 - e;
    let h = m >>> shift;
    const rest = m & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rest > halfway || (rest === halfway && h & 1)) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && h & 1)) h++; // may carry into the exponent, which is right
  return sign | h;
}

/**
 * Writes `src` as half-precision bits into `dst`, refusing a value beyond fp16's range by
 * tensor name and element, since it would otherwise become infinite in the graph.
 */
export function toFloat16(src: ArrayLike<number>, dst: Uint16Array, tensor: string): void {
  if (dst.length !== src.length) throw new Error(`${tensor}: ${src.length} values for ${dst.length} halves`);
  for (let i = 0; i < src.length; i++) {
    const v = src[i];
    if (Math.abs(v) > FLOAT16_MAX && Number.isFinite(v)) {
      // Values that round down to 65504 are fine; anything that would round up to inf is not.
      if (Math.abs(v) >= 65520) {
        throw new Float16RangeError(
          `${tensor} holds ${v} at element ${i}, beyond half precision's ±${FLOAT16_MAX}; it cannot run as an fp16 graph (use fp32)`,
        );
      }
    }
    dst[i] = float32ToFloat16Bits(v);
  }
}
