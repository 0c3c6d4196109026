// C = alpha·C + beta·(A·B) on an m×n window of C. A and B are read through (offset, row
// stride, column stride), so XᵀX (A = Xᵀ) and the lazy update W[:, i2:] −= Err·U[i1:i2, i2:]
// (alpha 1, beta −1) need no copies or transposes. Each invocation keeps a 4×4 block of C in
// registers (rows ty + 8·a, columns tx + 8·b of the workgroup's 32×32 tile, so neighbouring
// invocations read neighbouring columns of B) and reads A and B straight from storage: no
// workgroup memory and no barriers, which software adapters run far faster (a hardware GPU
// leans on its caches instead; not measured here). Every dot product is
// summed in ascending k, the order the TypeScript oracle uses. tile_m0 / tile_n0 offset the
// grid when a launch is split to respect the per-dimension limit.
// Prefixed when the pipeline is built: `struct Params` (GEMM_PARAMS in src/lib/gpu/gemm.ts).

@group(0) @binding(0) var<uniform> p : Params;
@group(0) @binding(1) var<storage, read> a : array<f32>;
@group(0) @binding(2) var<storage, read> b : array<f32>;
@group(0) @binding(3) var<storage, read_write> c : array<f32>;

const TILE : u32 = 32u;

@compute @workgroup_size(8, 8)
fn main(@builtin(workgroup_id) wid : vec3<u32>, @builtin(local_invocation_id) lid : vec3<u32>) {
  let r0 = (p.tile_m0 + wid.y) * TILE + lid.y;
  let c0 = (p.tile_n0 + wid.x) * TILE + lid.x;
  // Rows and columns past the window read a valid neighbour (clamped) and are never stored,
  // which keeps the inner loop free of bounds branches.
  let lr = p.m - 1u;
  let lc = p.n - 1u;
  let ar = vec4<u32>(min(r0, lr), min(r0 + 8u, lr), min(r0 + 16u, lr), min(r0 + 24u, lr)) * p.a_rs + p.a_off;
  let bc = vec4<u32>(min(c0, lc), min(c0 + 8u, lc), min(c0 + 16u, lc), min(c0 + 24u, lc)) * p.b_cs + p.b_off;
  var acc = array<vec4<f32>, 4>(vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0));
  for (var k = 0u; k < p.k; k++) {
    let ak = k * p.a_cs;
    let bk = k * p.b_rs;
    let bv = vec4<f32>(b[bc.x + bk], b[bc.y + bk], b[bc.z + bk], b[bc.w + bk]);
    acc[0] = acc[0] + a[ar.x + ak] * bv;
    acc[1] = acc[1] + a[ar.y + ak] * bv;
    acc[2] = acc[2] + a[ar.z + ak] * bv;
    acc[3] = acc[3] + a[ar.w + ak] * bv;
  }
  for (var i = 0u; i < 4u; i++) {
    let row = r0 + 8u * i;
    if (row >= p.m) {
      break;
    }
    for (var j = 0u; j < 4u; j++) {
      let col = c0 + 8u * j;
      if (col < p.n) {
        let at = p.c_off + row * p.c_rs + col;
        c[at] = p.alpha * c[at] + p.beta * acc[i][j];
      }
    }
  }
}
