// The quantizer shared by every kernel that quantizes (quant.wgsl, awq-clip.wgsl, block.wgsl),
// the twin of `fitGroup` and `quantizeInt` in src/lib/compress/reference/quantizer.ts.
// variant 0 = GPTQ/RTN (the range always spans 0), 1 = AWQ (llm-awq's pseudo_quantize_tensor).
// WGSL `round` is round-half-to-even, as torch.round.

const AWQ_MIN_RANGE : f32 = 1e-5f;

// Set per device by src/lib/gpu/division.ts. WGSL lets f32 division be 2.5 ULP off (and fma
// be unfused), and some drivers (NVIDIA's Vulkan driver) divide through a reciprocal; a symmetric
// grid puts each group's largest |w| exactly on a tie (±(maxq + 1)/2 − ½), where one ULP of the
// quotient decides the level. With REFINE_DIVISION the quotient is corrected to the IEEE one the
// references compute, from a residual built of exact partial products (no fma needed).
override REFINE_DIVISION : bool = false;
// Tests only: ULPs added to the refinement's first quotient, so an exact adapter (SwiftShader)
// can play one that divides approximately.
override REFINE_DIVISION_SKEW : i32 = 0;

// x with its low 12 significand bits cleared: 12 significant bits, so the product of two such
// halves is exact in f32, and x − hi12(x) is exact too.
fn hi12(x : f32) -> f32 {
  return bitcast<f32>(bitcast<u32>(x) & 0xfffff000u);
}

// a − q·b for a ≈ q·b, from four exact partial products: the first difference is exact (Sterbenz),
// the rest are far below the ULP of a quotient, so the sign and size of the residual are reliable.
fn quot_residual(a : f32, b : f32, q : f32) -> f32 {
  let qh = hi12(q);
  let ql = q - qh;
  let bh = hi12(b);
  let bl = b - bh;
  return (((a - qh * bh) - qh * bl) - ql * bh) - ql * bl;
}

// |a| / |b| rounded to nearest from an approximate quotient: a Newton step, then one move across
// the midpoint to a neighbour where the residual says the exact quotient lies beyond it.
fn quot_refined(a : f32, b : f32) -> f32 {
  var q = a / b;
  if (q == 0.0 || (bitcast<u32>(q) & 0x7f800000u) == 0x7f800000u) {
    return q;
  }
  q = bitcast<f32>(bitcast<u32>(q) + u32(REFINE_DIVISION_SKEW));
  q = q + quot_residual(a, b, q) / b;
  let r = quot_residual(a, b, q);
  let up = bitcast<f32>(bitcast<u32>(q) + 1u);
  let down = bitcast<f32>(bitcast<u32>(q) - 1u);
  if (r > (up - q) * b * 0.5) {
    return up;
  }
  if (r < (down - q) * b * 0.5) {
    return down;
  }
  return q;
}

fn quot(a : f32, b : f32) -> f32 {
  if (REFINE_DIVISION) {
    let sign = (bitcast<u32>(a) ^ bitcast<u32>(b)) & 0x80000000u;
    return bitcast<f32>(bitcast<u32>(quot_refined(abs(a), abs(b))) | sign);
  }
  return a / b;
}

// (scale, zero) of a group whose values span [mn, mx]; maxq = 2^bits − 1, hi = the top level.
fn quant_fit(mn : f32, mx : f32, variant : u32, sym : u32, maxq : f32, hi : f32) -> vec2<f32> {
  if (variant == 1u) {
    if (sym == 1u) {
      return vec2<f32>(quot(max(max(abs(mn), abs(mx)), AWQ_MIN_RANGE), hi), 0.0);
    }
    let sc = quot(max(mx - mn, AWQ_MIN_RANGE), maxq);
    return vec2<f32>(sc, clamp(-round(quot(mn, sc)), 0.0, maxq));
  }
  var xmin = min(mn, 0.0);
  var xmax = max(mx, 0.0);
  if (sym == 1u) {
    xmax = max(-xmin, xmax);
    if (xmin < 0.0) {
      xmin = -xmax;
    }
  }
  if (xmin == 0.0 && xmax == 0.0) {
    xmin = -1.0;
    xmax = 1.0;
  }
  let sc = quot(xmax - xmin, maxq);
  var z = (maxq + 1.0) * 0.5;
  if (sym == 0u) {
    z = round(quot(-xmin, sc));
  }
  return vec2<f32>(sc, z);
}

// The integer level of v under (scale, zero), clamped to [lo, hi]; v ≈ scale · (level − zero).
fn quant_int(v : f32, scale : f32, zero : f32, lo : f32, hi : f32) -> f32 {
  return clamp(round(quot(v, scale)) + zero, lo, hi);
}
