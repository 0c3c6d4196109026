// y[i] = a * x[i] + y[i]; the smallest kernel that proves the launcher, bindings and read-back work.
// `struct Params` is prefixed when the pipeline is built (AXPY_PARAMS in axpy.ts).

@group(0) @binding(0) var<uniform> params : Params;
@group(0) @binding(1) var<storage, read> x : array<f32>;
@group(0) @binding(2) var<storage, read_write> y : array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid : vec3<u32>) {
  let i = gid.x;
  if (i >= params.n) {
    return;
  }
  y[i] = params.a * x[i] + y[i];
}
