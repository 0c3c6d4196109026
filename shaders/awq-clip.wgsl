// AWQ's clip search (compression-spec.md "AWQ", llm-awq auto_clip_layer) per (row, group) of W,
// as four launches that keep the TypeScript oracle's order of every sum:
// `stats`  per (row, group): m0 = max |w|, and min / max of w (the quantizer of a clamped group
//          only needs its min and max, and clamping is monotone);
// `org`    per (row, group, token): org = x_t · w_g;
// `err`    per (row, group, step k, token): d = x_t · Q(clamp(w_g, ±m0·factor[k])) − org, stores d²
//          (all the multiply-adds, spread over every (k, token) for parallelism);
// `pick`   per (row, group): err_k = Σ_t d² / T in token order; keeps the m of the first strict minimum.
// The quantizer is the shared one of quant.wgsl (both variants).
struct Params {
  rows : u32,
  cols : u32,
  gs : u32,
  groups : u32,
  tokens : u32,
  steps : u32,
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
@group(0) @binding(2) var<storage, read> x : array<f32>;
@group(0) @binding(3) var<storage, read> factor : array<f32>;
// Per (row, group): m0, min, max.
@group(0) @binding(4) var<storage, read_write> gstat : array<f32>;
@group(0) @binding(5) var<storage, read_write> org : array<f32>;
// Per (row, group, k, token): d².
@group(0) @binding(6) var<storage, read_write> sq : array<f32>;
@group(0) @binding(7) var<storage, read_write> best : array<f32>;

const AWQ_MIN_RANGE : f32 = 1e-5f;

fn item(wid : vec3<u32>, lid : vec3<u32>) -> u32 {
  return (p.base + wid.y * p.nx + wid.x) * 64u + lid.x;
}

// (scale, zero) of a group whose clamped values span [mn, mx].
fn fit(mn : f32, mx : f32) -> vec2<f32> {
  if (p.variant == 1u) {
    if (p.sym == 1u) {
      return vec2<f32>(max(max(abs(mn), abs(mx)), AWQ_MIN_RANGE) / p.hi, 0.0);
    }
    let sc = max(mx - mn, AWQ_MIN_RANGE) / p.maxq;
    return vec2<f32>(sc, clamp(-round(mn / sc), 0.0, p.maxq));
  }
  var xmin = min(mn, 0.0);
  var xmax = max(mx, 0.0);
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

fn touch() {
  _ = w[0];
  _ = x[0];
  _ = factor[0];
  _ = gstat[0];
  _ = org[0];
  _ = sq[0];
  _ = best[0];
}

@compute @workgroup_size(64)
fn stats(@builtin(workgroup_id) wid : vec3<u32>, @builtin(local_invocation_id) lid : vec3<u32>) {
  touch();
  let rg = item(wid, lid);
  if (rg >= p.rows * p.groups) {
    return;
  }
  let r = rg / p.groups;
  let j0 = (rg % p.groups) * p.gs;
  let j1 = min(p.cols, j0 + p.gs);
  var m0 = 0.0;
  var mx = w[r * p.cols + j0];
  var mn = mx;
  for (var j = j0; j < j1; j++) {
    let v = w[r * p.cols + j];
    m0 = max(m0, abs(v));
    mx = max(mx, v);
    mn = min(mn, v);
  }
  gstat[3u * rg] = m0;
  gstat[3u * rg + 1u] = mn;
  gstat[3u * rg + 2u] = mx;
}

@compute @workgroup_size(64)
fn org_main(@builtin(workgroup_id) wid : vec3<u32>, @builtin(local_invocation_id) lid : vec3<u32>) {
  touch();
  let it = item(wid, lid);
  if (it >= p.rows * p.groups * p.tokens) {
    return;
  }
  let t = it % p.tokens;
  let rg = it / p.tokens;
  let r = rg / p.groups;
  let j0 = (rg % p.groups) * p.gs;
  let j1 = min(p.cols, j0 + p.gs);
  var acc = 0.0;
  for (var j = j0; j < j1; j++) {
    acc = acc + x[t * p.cols + j] * w[r * p.cols + j];
  }
  org[it] = acc;
}

@compute @workgroup_size(64)
fn err(@builtin(workgroup_id) wid : vec3<u32>, @builtin(local_invocation_id) lid : vec3<u32>) {
  touch();
  let it = item(wid, lid);
  if (it >= p.rows * p.groups * p.steps * p.tokens) {
    return;
  }
  let t = it % p.tokens;
  let k = (it / p.tokens) % p.steps;
  let rg = it / (p.tokens * p.steps);
  let r = rg / p.groups;
  let j0 = (rg % p.groups) * p.gs;
  let j1 = min(p.cols, j0 + p.gs);
  let m = gstat[3u * rg] * factor[k];
  let sz = fit(clamp(gstat[3u * rg + 1u], -m, m), clamp(gstat[3u * rg + 2u], -m, m));
  let s = sz.x;
  let z = sz.y;
  var acc = 0.0;
  for (var j = j0; j < j1; j++) {
    let c = clamp(round(clamp(w[r * p.cols + j], -m, m) / s) + z, p.lo, p.hi);
    acc = acc + x[t * p.cols + j] * (s * (c - z));
  }
  let d = acc - org[rg * p.tokens + t];
  sq[it] = d * d;
}

@compute @workgroup_size(64)
fn pick(@builtin(workgroup_id) wid : vec3<u32>, @builtin(local_invocation_id) lid : vec3<u32>) {
  touch();
  let rg = item(wid, lid);
  if (rg >= p.rows * p.groups) {
    return;
  }
  let m0 = gstat[3u * rg];
  var min_err = 1e9f;
  var best_max = m0;
  for (var k = 0u; k < p.steps; k++) {
    var e = 0.0;
    let at = (rg * p.steps + k) * p.tokens;
    for (var t = 0u; t < p.tokens; t++) {
      e = e + sq[at + t];
    }
    e = e / f32(p.tokens);
    if (e < min_err) {
      min_err = e;
      best_max = m0 * factor[k];
    }
  }
  best[rg] = best_max;
}
