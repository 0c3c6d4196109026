// Causal self-attention with grouped KV heads and an optional sliding window, for calibration
// lengths (a few hundred tokens). One invocation per (row, query head) sweeps its keys once
// with an online softmax (running max and sum, the accumulator rescaled when the max grows),
// so no scores are stored and no workgroup barrier is needed. Rows hold whole samples of
// seq_len tokens back to back; a query attends to keys of its own sample only.
// q [rows, nh · d], k and v [rows, kvh · d], out [rows, nh · d]. window 0: unlimited;
// softcap 0: no tanh soft-capping of the scores.
// Prefixed when the pipeline is built: `struct Params` (ATTENTION_PARAMS in
// src/lib/gpu/block-ops.ts), grid.wgsl.

@group(0) @binding(0) var<uniform> p : Params;
@group(0) @binding(1) var<storage, read> q : array<f32>;
@group(0) @binding(2) var<storage, read> k : array<f32>;
@group(0) @binding(3) var<storage, read> v : array<f32>;
@group(0) @binding(4) var<storage, read_write> out : array<f32>;

// Head dimensions up to this fit the private accumulator (the launcher checks).
const MAX_D : u32 = 256u;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid : vec3<u32>, @builtin(local_invocation_id) lid : vec3<u32>) {
  let item = grid_item(p.base, p.nx, wid, lid);
  if (item >= p.rows * p.nh) {
    return;
  }
  let h = item % p.nh;
  let row = item / p.nh;
  let i = row % p.seq_len;
  let first_row = row - i;
  let kvh = h / (p.nh / p.kvh);
  let qo = row * p.nh * p.d + h * p.d;
  var first = 0u;
  if (p.window > 0u && i + 1u > p.window) {
    first = i + 1u - p.window;
  }
  var acc : array<f32, MAX_D>;
  for (var d = 0u; d < p.d; d++) {
    acc[d] = 0.0;
  }
  var m = -3.0e38;
  var l = 0.0;
  for (var j = first; j <= i; j++) {
    let ko = (first_row + j) * p.kvh * p.d + kvh * p.d;
    var dot = 0.0;
    for (var d = 0u; d < p.d; d++) {
      dot = dot + q[qo + d] * k[ko + d];
    }
    var sc = dot * p.scale;
    if (p.softcap > 0.0) {
      // tanh is ±1 in f32 well before |x| = 10; clamping keeps exp-based tanh from overflowing.
      sc = p.softcap * tanh(clamp(sc / p.softcap, -10.0, 10.0));
    }
    let m_new = max(m, sc);
    let corr = exp(m - m_new);
    let e = exp(sc - m_new);
    l = l * corr + e;
    for (var d = 0u; d < p.d; d++) {
      acc[d] = acc[d] * corr + e * v[ko + d];
    }
    m = m_new;
  }
  for (var d = 0u; d < p.d; d++) {
    out[qo + d] = acc[d] / l;
  }
}
