// RMSNorm of each row: y = x / sqrt(mean(x²) + eps) · (offset + γ) (Gemma's offset is 1). One
// invocation per row sweeps it twice; rows are many (tokens, or tokens × heads for q/k norm)
// and no workgroup barrier is needed, which software adapters run far faster.
// Prefixed when the pipeline is built: `struct Params` (NORM_PARAMS in src/lib/gpu/block-ops.ts),
// grid.wgsl.

@group(0) @binding(0) var<uniform> p : Params;
@group(0) @binding(1) var<storage, read> x : array<f32>;
@group(0) @binding(2) var<storage, read> gamma : array<f32>;
@group(0) @binding(3) var<storage, read_write> y : array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid : vec3<u32>, @builtin(local_invocation_id) lid : vec3<u32>) {
  let row = grid_item(p.base, p.nx, wid, lid);
  if (row >= p.rows) {
    return;
  }
  let at = row * p.width;
  var ss = 0.0;
  for (var i = 0u; i < p.width; i++) {
    let v = x[at + i];
    ss = ss + v * v;
  }
  let inv = 1.0 / sqrt(ss / f32(p.width) + p.eps);
  for (var i = 0u; i < p.width; i++) {
    y[at + i] = x[at + i] * inv * (p.offset + gamma[i]);
  }
}
