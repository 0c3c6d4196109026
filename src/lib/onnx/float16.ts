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

/** Half-precision bits of a weight value; one beyond fp16's range is refused by tensor and element. */
export function float16Checked(v: number, tensor: string, element: number): number {
  // Rounding to 65504 is fine; anything that would round up to infinity is not.
  if (Math.abs(v) >= FLOAT16_MAX + 16) {
    throw new Float16RangeError(
      `${tensor} holds ${v} at element ${element}, beyond half precision's ±${FLOAT16_MAX}: this model cannot run as an fp16 graph; use fp32`,
    );
  }
  return float32ToFloat16Bits(v);
}
