// N:M mask selection and application, one invocation per (row, group of M consecutive input
// columns). Scores: mode 0 = |w| (magnitude), 1 = w²·s_j (Wanda's |w|·sqrt(s_j), squared: same
// order, no sqrt whose precision WGSL leaves open). An entry's rank counts the entries pruned
// before it (lower score, or equal score and higher index: the lower index is kept); ranks
// below N are pruned. A short last group prunes ⌊N·len/M⌋.
struct Params {
  rows : u32,
  cols : u32,
  n : u32,
  m : u32,
  mode : u32,
  ngroups : u32,
  base : u32,
  nx : u32,
}

@group(0) @binding(0) var<uniform> p : Params;
@group(0) @binding(1) var<storage, read_write> w : array<f32>;
@group(0) @binding(2) var<storage, read> s : array<f32>;
@group(0) @binding(3) var<storage, read_write> mask : array<u32>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid : vec3<u32>, @builtin(local_invocation_id) lid : vec3<u32>) {
  let it = (p.base + wid.y * p.nx + wid.x) * 64u + lid.x;
  if (it >= p.rows * p.ngroups) {
    return;
  }
  let r = it / p.ngroups;
  let j0 = (it % p.ngroups) * p.m;
  let len = min(p.m, p.cols - j0);
  var prune = p.n;
  if (len != p.m) {
    prune = (p.n * len) / p.m;
  }
  let base = r * p.cols + j0;
  var sc : array<f32, 32>;
  for (var j = 0u; j < len; j++) {
    let v = w[base + j];
    if (p.mode == 0u) {
      sc[j] = abs(v);
    } else {
      sc[j] = (v * v) * s[j0 + j];
    }
  }
  for (var j = 0u; j < len; j++) {
    var rank = 0u;
    for (var k = 0u; k < len; k++) {
      if (k != j && (sc[k] < sc[j] || (sc[k] == sc[j] && k > j))) {
        rank++;
      }
    }
    let pr = rank < prune;
    mask[base + j] = select(0u, 1u, pr);
    if (pr) {
      w[base + j] = 0.0;
    }
  }
}
