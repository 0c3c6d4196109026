// Round-to-nearest quantization per (row, group) with the shared quantizer (quantizer.wgsl,
// both variants). `fit` computes (scale, zero) for groups g0 .. g0+gcount of every row into qp
// (interleaved pairs, [rows · groups · 2]); `apply` fake-quantizes every group with the stored
// pairs and writes unsigned codes (c − lo).
// Prefixed when the pipeline is built: `struct Params` (QUANT_PARAMS in src/lib/gpu/quant.ts),
// grid.wgsl and quantizer.wgsl.

@group(0) @binding(0) var<uniform> p : Params;
@group(0) @binding(1) var<storage, read> w : array<f32>;
@group(0) @binding(2) var<storage, read_write> qp : array<f32>;
@group(0) @binding(3) var<storage, read_write> outw : array<f32>;
@group(0) @binding(4) var<storage, read_write> codes : array<u32>;

// The quantizer fits a group from its min and max alone (max |w| = max(|min|, |max|)).
fn fit_group(r : u32, g : u32) -> vec2<f32> {
  let j0 = r * p.cols + g * p.gs;
  let j1 = r * p.cols + min(p.cols, (g + 1u) * p.gs);
  var mx = w[j0];
  var mn = mx;
  for (var j = j0 + 1u; j < j1; j++) {
    mx = max(mx, w[j]);
    mn = min(mn, w[j]);
  }
  return quant_fit(mn, mx, p.variant, p.sym, p.maxq, p.hi);
}

@compute @workgroup_size(64)
fn fit(@builtin(workgroup_id) wid : vec3<u32>, @builtin(local_invocation_id) lid : vec3<u32>) {
  _ = outw[0];
  _ = codes[0];
  let it = grid_item(p.base, p.nx, wid, lid);
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
  let it = grid_item(p.base, p.nx, wid, lid);
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
    let c = quant_int(w[j], s, z, p.lo, p.hi);
    outw[j] = s * (c - z);
    codes[j] = u32(c - p.lo);
  }
}
