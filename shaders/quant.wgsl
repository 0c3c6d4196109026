// The shared quantizer (compression-spec.md "Quantizer"), both variants, per (row, group).
// `fit` computes (scale, zero) for groups g0 .. g0+gcount of every row into qp (interleaved
// pairs, [rows · groups · 2]); `apply` fake-quantizes every group with the stored pairs and
// writes unsigned codes (c − lo). variant 0 = GPTQ/RTN (range through 0), 1 = AWQ.
// WGSL `round` is round-half-to-even, as torch.round.
struct Params {
  rows : u32,
  cols : u32,
  gs : u32,
  groups : u32,
  g0 : u32,
  gcount : u32,
  variant : u32,
  sym : u32,
  base : u32,
  nx : u32,
  maxq : f32,
  lo : f32,
  hi : f32,
}

@group(0) @binding(0) var<uniform> p : Params;
@group(0) @binding(1) var<storage, read> w : array<f32>;
@group(0) @binding(2) var<storage, read_write> qp : array<f32>;
@group(0) @binding(3) var<storage, read_write> outw : array<f32>;
@group(0) @binding(4) var<storage, read_write> codes : array<u32>;

const AWQ_MIN_RANGE : f32 = 1e-5f;

fn fit_group(r : u32, g : u32) -> vec2<f32> {
  let j0 = r * p.cols + g * p.gs;
  let j1 = r * p.cols + min(p.cols, (g + 1u) * p.gs);
  if (p.variant == 1u) {
    if (p.sym == 1u) {
      var m = 0.0;
      for (var j = j0; j < j1; j++) {
        m = max(m, abs(w[j]));
      }
      return vec2<f32>(max(m, AWQ_MIN_RANGE) / p.hi, 0.0);
    }
    var mx = w[j0];
    var mn = mx;
    for (var j = j0 + 1u; j < j1; j++) {
      mx = max(mx, w[j]);
      mn = min(mn, w[j]);
    }
    let sc = max(mx - mn, AWQ_MIN_RANGE) / p.maxq;
    return vec2<f32>(sc, clamp(-round(mn / sc), 0.0, p.maxq));
  }
  var xmin = 0.0;
  var xmax = 0.0;
  for (var j = j0; j < j1; j++) {
    xmin = min(xmin, w[j]);
    xmax = max(xmax, w[j]);
  }
  if (p.sym == 1u) {
    xmax = max(-xmin, xmax);
    if (xmin < 0.0) {
      xmin = -xmax;
    }
  }
  if (xmin == 0.0 && xmax == 0.0) {
    xmin = -1.0;
    xmax = 1.0;
  }
  let sc = (xmax - xmin) / p.maxq;
  var z = (p.maxq + 1.0) * 0.5;
  if (p.sym == 0u) {
    z = round(-xmin / sc);
  }
  return vec2<f32>(sc, z);
}

fn item(wid : vec3<u32>, lid : vec3<u32>) -> u32 {
  return (p.base + wid.y * p.nx + wid.x) * 64u + lid.x;
}

@compute @workgroup_size(64)
fn fit(@builtin(workgroup_id) wid : vec3<u32>, @builtin(local_invocation_id) lid : vec3<u32>) {
  _ = outw[0];
  _ = codes[0];
  let it = item(wid, lid);
  if (it >= p.rows * p.gcount) {
    return;
  }
  let r = it / p.gcount;
  let g = p.g0 + it % p.gcount;
  let sz = fit_group(r, g);
  qp[2u * (r * p.groups + g)] = sz.x;
  qp[2u * (r * p.groups + g) + 1u] = sz.y;
}

@compute @workgroup_size(64)
fn apply(@builtin(workgroup_id) wid : vec3<u32>, @builtin(local_invocation_id) lid : vec3<u32>) {
  let it = item(wid, lid);
  if (it >= p.rows * p.groups) {
    return;
  }
  let r = it / p.groups;
  let g = it % p.groups;
  let s = qp[2u * it];
  let z = qp[2u * it + 1u];
  let j0 = r * p.cols + g * p.gs;
  let j1 = r * p.cols + min(p.cols, (g + 1u) * p.gs);
  for (var j = j0; j < j1; j++) {
    let c = clamp(round(w[j] / s) + z, p.lo, p.hi);
    outw[j] = s * (c - z);
    codes[j] = u32(c - p.lo);
  }
}
