// gemm.wgsl's product for hardware adapters: a workgroup of 16×16 invocations covers a 64×64 tile
// of C and stages 64×16 of A and 16×64 of B in workgroup memory per step of k, so a value read
// from storage serves 64 products instead of 4. Each invocation keeps a 4×4 block of C (rows
// ty + 16·i, columns tx + 16·j) and sums in ascending k, the oracle's order, so the result is
// gemm.wgsl's. Its barriers cost a software adapter a fiber switch each, so gemm.ts picks this
// kernel for hardware adapters only. tile_m0 / tile_n0 count 64-wide tiles here.
// Prefixed when the pipeline is built: `struct Params` (GEMM_PARAMS in src/lib/gpu/gemm.ts).

@group(0) @binding(0) var<uniform> p : Params;
@group(0) @binding(1) var<storage, read> a : array<f32>;
@group(0) @binding(2) var<storage, read> b : array<f32>;
@group(0) @binding(3) var<storage, read_write> c : array<f32>;

const TILE : u32 = 64u;
const KT : u32 = 16u;

// k-major: sa[kk · 64 + row], sb[kk · 64 + column].
var<workgroup> sa : array<f32, 1024>;
var<workgroup> sb : array<f32, 1024>;

@compute @workgroup_size(16, 16)
fn main(
  @builtin(workgroup_id) wid : vec3<u32>,
  @builtin(local_invocation_id) lid : vec3<u32>,
  @builtin(local_invocation_index) li : u32,
) {
  let tm = (p.tile_m0 + wid.y) * TILE;
  let tn = (p.tile_n0 + wid.x) * TILE;
  // Rows, columns and k past the window load a valid neighbour (clamped): such rows and columns
  // are never stored, and such k are never summed.
  let lr = p.m - 1u;
  let lc = p.n - 1u;
  let lk = p.k - 1u;
  var acc = array<vec4<f32>, 4>(vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0));
  for (var k0 = 0u; k0 < p.k; k0 += KT) {
    for (var t = 0u; t < 4u; t++) {
      let e = li + 256u * t;
      let ar = e / KT;
      let ak = e % KT;
      sa[ak * TILE + ar] = a[p.a_off + min(tm + ar, lr) * p.a_rs + min(k0 + ak, lk) * p.a_cs];
      let bk = e / TILE;
      let bn = e % TILE;
      sb[bk * TILE + bn] = b[p.b_off + min(k0 + bk, lk) * p.b_rs + min(tn + bn, lc) * p.b_cs];
    }
    workgroupBarrier();
    let kn = min(KT, p.k - k0);
    for (var kk = 0u; kk < kn; kk++) {
      let o = kk * TILE;
      let bv = vec4<f32>(sb[o + lid.x], sb[o + lid.x + 16u], sb[o + lid.x + 32u], sb[o + lid.x + 48u]);
      acc[0] = acc[0] + sa[o + lid.y] * bv;
      acc[1] = acc[1] + sa[o + lid.y + 16u] * bv;
      acc[2] = acc[2] + sa[o + lid.y + 32u] * bv;
      acc[3] = acc[3] + sa[o + lid.y + 48u] * bv;
    }
    workgroupBarrier();
  }
  for (var i = 0u; i < 4u; i++) {
    let row = tm + lid.y + 16u * i;
    if (row >= p.m) {
      break;
    }
    for (var j = 0u; j < 4u; j++) {
      let col = tn + lid.x + 16u * j;
      if (col < p.n) {
        let at = p.c_off + row * p.c_rs + col;
        c[at] = p.alpha * c[at] + p.beta * acc[i][j];
      }
    }
  }
}
