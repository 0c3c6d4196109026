// AWQ's clip search (Lin et al. 2023, llm-awq auto_clip_layer) per (row, group) of W,
// as launches that keep the TypeScript oracle's order of every sum (stats, err_steps, pick; or
// stats, org, err, pick for groups wider than 128):
// `stats`  per (row, group): m0 = max |w|, and min / max of w (the quantizer of a clamped group
//          only needs its min and max, and clamping is monotone);
// `org`    per (row, group, token): org = x_t · w_g;
// `err_steps` per (row, group), groups of at most 128 (instead of `org` and `err`): quantizes
//          Q(clamp(w_g, ±m0·factor[k])) for up to 11 steps at a time into private memory beside
//          w_g itself, then one pass over the group per four tokens gives every step's dot
//          product and org: err_k = Σ_t (x_t · q_k − org)² / T in token order;
// `err`    per (row, group, step k), wider groups, after `org`: the same with q_k in `qw`;
// `pick`   per (row, group): keeps the m of the first strict minimum of err_k.
// No barriers; each weight is quantized once per step, not per token, and in err_steps each
// load of x feeds 12 multiply-adds (loads, not arithmetic, bound this on software adapters).
// Prefixed when the pipeline is built: `struct Params` (CLIP_PARAMS in src/lib/gpu/clip.ts),
// grid.wgsl and the shared quantizer, quantizer.wgsl (both variants).

@group(0) @binding(0) var<uniform> p : Params;
@group(0) @binding(1) var<storage, read> w : array<f32>;
@group(0) @binding(2) var<storage, read> x : array<f32>;
@group(0) @binding(3) var<storage, read> factor : array<f32>;
// Per (row, group): m0, min, max.
@group(0) @binding(4) var<storage, read_write> gstat : array<f32>;
@group(0) @binding(5) var<storage, read_write> org : array<f32>;
// Per (row, group, k): the quantized group (gs values, a short last group uses the first ones).
@group(0) @binding(6) var<storage, read_write> qw : array<f32>;
// Per (row, group, k): err_k; then per (row, group): the chosen max.
@group(0) @binding(7) var<storage, read_write> errk : array<f32>;
@group(0) @binding(8) var<storage, read_write> best : array<f32>;

// err_steps: widest group held in private memory, and shrink steps per pass (12 slots of q,
// the last one the unclipped group).
const GROUP_CAP : u32 = 128u;
const STEPS : u32 = 11u;
var<private> qs : array<vec4<f32>, 3u * GROUP_CAP>;

// Group rg of the chunk: where its row starts in w, its first column, and its width.
struct Span {
  w0 : u32,
  j0 : u32,
  len : u32,
}

fn span(rg : u32) -> Span {
  let j0 = (rg % p.groups) * p.gs;
  return Span((rg / p.groups) * p.cols + j0, j0, min(p.cols, j0 + p.gs) - j0);
}

// The quantizer of group rg clipped at shrink step k: (clip m, scale, zero).
fn step_quantizer(rg : u32, k : u32) -> vec3<f32> {
  let m = gstat[3u * rg] * factor[k];
  let sz = quant_fit(clamp(gstat[3u * rg + 1u], -m, m), clamp(gstat[3u * rg + 2u], -m, m), p.variant, p.sym, p.maxq, p.hi);
  return vec3<f32>(m, sz.x, sz.y);
}

// Q(clamp(v, ±m)) under the quantizer of step_quantizer.
fn fake_quant(v : f32, q : vec3<f32>) -> f32 {
  let c = quant_int(clamp(v, -q.x, q.x), q.y, q.z, p.lo, p.hi);
  return q.y * (c - q.z);
}

fn touch() {
  _ = w[0];
  _ = x[0];
  _ = factor[0];
  _ = gstat[0];
  _ = org[0];
  _ = qw[0];
  _ = errk[0];
  _ = best[0];
}

@compute @workgroup_size(64)
fn stats(@builtin(workgroup_id) wid : vec3<u32>, @builtin(local_invocation_id) lid : vec3<u32>) {
  touch();
  let rg = grid_item(p.base, p.nx, wid, lid);
  if (rg >= p.rows * p.groups) {
    return;
  }
  let g = span(rg);
  var m0 = 0.0;
  var mx = w[g.w0];
  var mn = mx;
  for (var j = 0u; j < g.len; j++) {
    let v = w[g.w0 + j];
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
  let it = grid_item(p.base, p.nx, wid, lid);
  if (it >= p.rows * p.groups * p.tokens) {
    return;
  }
  let t = it % p.tokens;
  let g = span(it / p.tokens);
  var acc = 0.0;
  for (var j = 0u; j < g.len; j++) {
    acc = acc + x[t * p.cols + g.j0 + j] * w[g.w0 + j];
  }
  org[it] = acc;
}

// Dot products of one token block against the 12 slots of q: returns Σ_j x_t[j]·q_s[j] for the
// tokens t0 .. t0+3 (slot s of token u in a[3u + s/4][s%4]), j ascending as in the oracle.
fn dots4(x0 : u32, len : u32) -> array<vec4<f32>, 12> {
  var a : array<vec4<f32>, 12>;
  for (var i = 0u; i < 12u; i++) {
    a[i] = vec4<f32>(0.0);
  }
  for (var j = 0u; j < len; j++) {
    let qa = qs[j * 3u];
    let qb = qs[j * 3u + 1u];
    let qc = qs[j * 3u + 2u];
    let xa = x[x0 + j];
    let xb = x[x0 + p.cols + j];
    let xc = x[x0 + 2u * p.cols + j];
    let xd = x[x0 + 3u * p.cols + j];
    a[0] = a[0] + xa * qa;
    a[1] = a[1] + xa * qb;
    a[2] = a[2] + xa * qc;
    a[3] = a[3] + xb * qa;
    a[4] = a[4] + xb * qb;
    a[5] = a[5] + xb * qc;
    a[6] = a[6] + xc * qa;
    a[7] = a[7] + xc * qb;
    a[8] = a[8] + xc * qc;
    a[9] = a[9] + xd * qa;
    a[10] = a[10] + xd * qb;
    a[11] = a[11] + xd * qc;
  }
  return a;
}

// The same for one token: slot s in a[s/4][s%4].
fn dots1(x0 : u32, len : u32) -> array<vec4<f32>, 3> {
  var a = array<vec4<f32>, 3>(vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0));
  for (var j = 0u; j < len; j++) {
    let xv = x[x0 + j];
    a[0] = a[0] + xv * qs[j * 3u];
    a[1] = a[1] + xv * qs[j * 3u + 1u];
    a[2] = a[2] + xv * qs[j * 3u + 2u];
  }
  return a;
}

@compute @workgroup_size(64)
fn err_steps(@builtin(workgroup_id) wid : vec3<u32>, @builtin(local_invocation_id) lid : vec3<u32>) {
  touch();
  let rg = grid_item(p.base, p.nx, wid, lid);
  if (rg >= p.rows * p.groups) {
    return;
  }
  let g = span(rg);
  for (var k0 = 0u; k0 < p.steps; k0 += STEPS) {
    let nk = min(STEPS, p.steps - k0);
    // Slots 0 .. STEPS−1: the group quantized at steps k0 ..; slot 11: the group itself (org).
    for (var j = 0u; j < g.len; j++) {
      qs[j * 3u + 2u].w = w[g.w0 + j];
    }
    for (var kk = 0u; kk < nk; kk++) {
      let q = step_quantizer(rg, k0 + kk);
      for (var j = 0u; j < g.len; j++) {
        qs[j * 3u + kk / 4u][kk % 4u] = fake_quant(w[g.w0 + j], q);
      }
    }
    var e = array<vec4<f32>, 3>(vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0));
    var t = 0u;
    // Four tokens per pass over the group: each load of q feeds four tokens' sums.
    for (; t + 4u <= p.tokens; t += 4u) {
      let a = dots4(t * p.cols + g.j0, g.len);
      for (var u = 0u; u < 4u; u++) {
        let o = vec4<f32>(a[3u * u + 2u].w);
        for (var v = 0u; v < 3u; v++) {
          let d = a[3u * u + v] - o;
          e[v] = e[v] + d * d;
        }
      }
    }
    for (; t < p.tokens; t++) {
      let a = dots1(t * p.cols + g.j0, g.len);
      let o = vec4<f32>(a[2].w);
      for (var v = 0u; v < 3u; v++) {
        let d = a[v] - o;
        e[v] = e[v] + d * d;
      }
    }
    for (var kk = 0u; kk < nk; kk++) {
      errk[rg * p.steps + k0 + kk] = e[kk / 4u][kk % 4u] / f32(p.tokens);
    }
  }
}

@compute @workgroup_size(64)
fn err(@builtin(workgroup_id) wid : vec3<u32>, @builtin(local_invocation_id) lid : vec3<u32>) {
  touch();
  let it = grid_item(p.base, p.nx, wid, lid);
  if (it >= p.rows * p.groups * p.steps) {
    return;
  }
  let k = it % p.steps;
  let rg = it / p.steps;
  let g = span(rg);
  let q = step_quantizer(rg, k);
  let q0 = it * p.gs;
  for (var j = 0u; j < g.len; j++) {
    qw[q0 + j] = fake_quant(w[g.w0 + j], q);
  }
  var e = 0.0;
  for (var t = 0u; t < p.tokens; t++) {
    let x0 = t * p.cols + g.j0;
    var acc = 0.0;
    for (var j = 0u; j < g.len; j++) {
      acc = acc + x[x0 + j] * qw[q0 + j];
    }
    let d = acc - org[rg * p.tokens + t];
    e = e + d * d;
  }
  errk[it] = e / f32(p.tokens);
}

@compute @workgroup_size(64)
fn pick(@builtin(workgroup_id) wid : vec3<u32>, @builtin(local_invocation_id) lid : vec3<u32>) {
  touch();
  let rg = grid_item(p.base, p.nx, wid, lid);
  if (rg >= p.rows * p.groups) {
    return;
  }
  let m0 = gstat[3u * rg];
  var min_err = 1e9f;
  var best_max = m0;
  for (var k = 0u; k < p.steps; k++) {
    let e = errk[rg * p.steps + k];
    if (e < min_err) {
      min_err = e;
      best_max = m0 * factor[k];
    }
  }
  best[rg] = best_max;
}
