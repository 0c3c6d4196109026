// The quantizer shared by every kernel that quantizes (quant.wgsl, awq-clip.wgsl, block.wgsl),
// the twin of `fitGroup` and `quantizeInt` in src/lib/compress/reference/quantizer.ts.
// variant 0 = GPTQ/RTN (the range always spans 0), 1 = AWQ (llm-awq's pseudo_quantize_tensor).
// WGSL `round` is round-half-to-even, as torch.round.

const AWQ_MIN_RANGE : f32 = 1e-5f;

// (scale, zero) of a group whose values span [mn, mx]; maxq = 2^bits − 1, hi = the top level.
fn quant_fit(mn : f32, mx : f32, variant : u32, sym : u32, maxq : f32, hi : f32) -> vec2<f32> {
  if (variant == 1u) {
    if (sym == 1u) {
      return vec2<f32>(max(max(abs(mn), abs(mx)), AWQ_MIN_RANGE) / hi, 0.0);
    }
    let sc = max(mx - mn, AWQ_MIN_RANGE) / maxq;
    return vec2<f32>(sc, clamp(-round(mn / sc), 0.0, maxq));
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
  let sc = (xmax - xmin) / maxq;
  var z = (maxq + 1.0) * 0.5;
  if (sym == 0u) {
    z = round(-xmin / sc);
  }
  return vec2<f32>(sc, z);
}

// The integer level of v under (scale, zero), clamped to [lo, hi]; v ≈ scale · (level − zero).
fn quant_int(v : f32, scale : f32, zero : f32, lo : f32, hi : f32) -> f32 {
  return clamp(round(v / scale) + zero, lo, hi);
}
