// The division check (src/lib/gpu/division.ts): one pair per invocation through the quantizer's
// `quot`, under the pipeline's REFINE_DIVISION. Prefixed when the pipeline is built: quantizer.wgsl.

@group(0) @binding(0) var<storage, read> ab : array<vec2<f32>>;
@group(0) @binding(1) var<storage, read_write> q : array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid : vec3<u32>) {
  let i = gid.x;
  if (i >= arrayLength(&q)) {
    return;
  }
  q[i] = quot(ab[i].x, ab[i].y);
}
