// Rotary position embedding in place on x [rows, heads · D] (rotate-half layout): for the pair
// (j, j + D/2) of each head, (a, b) → (a·cos − b·sin, b·cos + a·sin) at the row's position.
// Rows hold whole samples of seq_len tokens back to back, so a row's position is row mod
// seq_len. cos / sin are tables [seq_len, D/2] made on the host (src/lib/model/rope.ts).
// Prefixed when the pipeline is built: `struct Params` (ROPE_PARAMS in src/lib/gpu/block-ops.ts),
// grid.wgsl.

@group(0) @binding(0) var<uniform> p : Params;
@group(0) @binding(1) var<storage, read> cos_t : array<f32>;
@group(0) @binding(2) var<storage, read> sin_t : array<f32>;
@group(0) @binding(3) var<storage, read_write> x : array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid : vec3<u32>, @builtin(local_invocation_id) lid : vec3<u32>) {
  let item = grid_item(p.base, p.nx, wid, lid);
  if (item >= p.rows * p.heads * p.half) {
    return;
  }
  let j = item % p.half;
  let t = item / p.half;
  let h = t % p.heads;
  let row = t / p.heads;
  let pos = row % p.seq_len;
  let c = cos_t[pos * p.half + j];
  let s = sin_t[pos * p.half + j];
  let at = row * p.heads * 2u * p.half + h * 2u * p.half + j;
  let a = x[at];
  let b = x[at + p.half];
  x[at] = a * c - b * s;
  x[at + p.half] = b * c + a * s;
}
