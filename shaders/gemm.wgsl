// C = alpha·C + beta·(A·B) on an m×n window of C. A and B are read through (offset, row
// stride, column stride), so XᵀX (A = Xᵀ) and the lazy update W[:, i2:] −= Err·U[i1:i2, i2:]
// (alpha 1, beta −1) need no copies or transposes. 16×16 tiles are staged in workgroup memory;
// every invocation sums its dot product in ascending k, the order the TypeScript oracle uses.
// tile_m0 / tile_n0 offset the grid when a launch is split to respect the per-dimension limit.
struct Params {
  m : u32,
  n : u32,
  k : u32,
  a_off : u32,
  a_rs : u32,
  a_cs : u32,
  b_off : u32,
  b_rs : u32,
  b_cs : u32,
  c_off : u32,
  c_rs : u32,
  tile_m0 : u32,
  tile_n0 : u32,
  alpha : f32,
  beta : f32,
}

@group(0) @binding(0) var<uniform> p : Params;
@group(0) @binding(1) var<storage, read> a : array<f32>;
@group(0) @binding(2) var<storage, read> b : array<f32>;
@group(0) @binding(3) var<storage, read_write> c : array<f32>;

const T : u32 = 16u;
var<workgroup> ta : array<f32, 256>;
var<workgroup> tb : array<f32, 256>;

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid : vec3<u32>, @builtin(local_invocation_id) lid : vec3<u32>) {
  let row = (p.tile_m0 + wid.y) * T + lid.y;
  let col = (p.tile_n0 + wid.x) * T + lid.x;
  var acc = 0.0;
  for (var k0 = 0u; k0 < p.k; k0 += T) {
    let ka = k0 + lid.x;
    var va = 0.0;
    if (row < p.m && ka < p.k) {
      va = a[p.a_off + row * p.a_rs + ka * p.a_cs];
    }
    ta[lid.y * T + lid.x] = va;
    let kb = k0 + lid.y;
    var vb = 0.0;
    if (kb < p.k && col < p.n) {
      vb = b[p.b_off + kb * p.b_rs + col * p.b_cs];
    }
    tb[lid.y * T + lid.x] = vb;
    workgroupBarrier();
    // Stop at k so padding never adds a term the oracle does not have.
    let kn = min(T, p.k - k0);
    for (var kk = 0u; kk < kn; kk++) {
      acc = acc + ta[lid.y * T + kk] * tb[kk * T + lid.x];
    }
    workgroupBarrier();
  }
  if (row < p.m && col < p.n) {
    let i = p.c_off + row * p.c_rs + col;
    c[i] = p.alpha * c[i] + p.beta * acc;
  }
}
