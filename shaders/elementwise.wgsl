// The block forward's element-wise steps, one invocation per element (or per row for
// row_sqerr), each its own entry point: residual add, bias add, the gated activation, and the
// per-row squared error AWQ's scale search sums on the host.
// Prefixed when the pipeline is built: `struct Params` (ELEMENTWISE_PARAMS in
// src/lib/gpu/block-ops.ts), grid.wgsl.

@group(0) @binding(0) var<uniform> p : Params;
@group(0) @binding(1) var<storage, read> x : array<f32>;
@group(0) @binding(2) var<storage, read_write> y : array<f32>;
@group(0) @binding(3) var<storage, read> z : array<f32>;

// y += x.
@compute @workgroup_size(64)
fn add(@builtin(workgroup_id) wid : vec3<u32>, @builtin(local_invocation_id) lid : vec3<u32>) {
  let i = grid_item(p.base, p.nx, wid, lid);
  if (i < p.n) {
    y[i] = y[i] + x[i];
  }
}

// y [n / cols, cols] += x (a bias of cols values) on every row.
@compute @workgroup_size(64)
fn add_bias(@builtin(workgroup_id) wid : vec3<u32>, @builtin(local_invocation_id) lid : vec3<u32>) {
  let i = grid_item(p.base, p.nx, wid, lid);
  if (i < p.n) {
    y[i] = y[i] + x[i % p.cols];
  }
}

// y = act(y) · x: the gate projection activated (SiLU, or GELU's tanh form when act is 1) times the up projection.
@compute @workgroup_size(64)
fn gate(@builtin(workgroup_id) wid : vec3<u32>, @builtin(local_invocation_id) lid : vec3<u32>) {
  let i = grid_item(p.base, p.nx, wid, lid);
  if (i >= p.n) {
    return;
  }
  let g = y[i];
  var a : f32;
  if (p.act == 0u) {
    a = g / (1.0 + exp(-g));
  } else {
    // tanh is ±1 in f32 well before |x| = 10; clamping keeps exp-based tanh from overflowing.
    a = 0.5 * g * (1.0 + tanh(clamp(0.7978845608028654 * (g + 0.044715 * g * g * g), -10.0, 10.0)));
  }
  y[i] = a * x[i];
}

// y[r] = Σ_c (x[r, c] − z[r, c])² for each of the n rows of cols values.
@compute @workgroup_size(64)
fn row_sqerr(@builtin(workgroup_id) wid : vec3<u32>, @builtin(local_invocation_id) lid : vec3<u32>) {
  let r = grid_item(p.base, p.nx, wid, lid);
  if (r >= p.n) {
    return;
  }
  var e = 0.0;
  for (var c = 0u; c < p.cols; c++) {
    let d = x[r * p.cols + c] - z[r * p.cols + c];
    e = e + d * d;
  }
  y[r] = e;
}
