// Per-channel running statistics of a calibration sample X (tokens × cols): Wanda's Σ x² and
// AWQ's Σ |x|, folded into running means as new = alpha·old + beta·sum (alphas and betas
// come from the host: sequences for Wanda, tokens for AWQ). One invocation per column; the
// loop over tokens reads consecutive columns across the workgroup.
// Prefixed when the pipeline is built: `struct Params` (STATS_PARAMS in src/lib/gpu/stats.ts),
// grid.wgsl.

@group(0) @binding(0) var<uniform> p : Params;
@group(0) @binding(1) var<storage, read> x : array<f32>;
@group(0) @binding(2) var<storage, read_write> sq : array<f32>;
@group(0) @binding(3) var<storage, read_write> am : array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid : vec3<u32>, @builtin(local_invocation_id) lid : vec3<u32>) {
  let j = grid_item(p.base, p.nx, wid, lid);
  if (j >= p.cols) {
    return;
  }
  var s = 0.0;
  var a = 0.0;
  for (var t = 0u; t < p.tokens; t++) {
    let v = x[t * p.cols + j];
    s = s + v * v;
    a = a + abs(v);
  }
  sq[j] = p.a_sq * sq[j] + p.b_sq * s;
  am[j] = p.a_abs * am[j] + p.b_abs * a;
}
