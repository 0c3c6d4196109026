// N:M mask selection and application, one invocation per (row, group of M consecutive input
// columns). Scores: mode 0 = |w| (magnitude), 1 = w²·s_j (Wanda's |w|·sqrt(s_j), squared: same
// order, no sqrt whose precision WGSL leaves open). Ranks as in nm-rank.wgsl.
// Prefixed when the pipeline is built: `struct Params` (NM_PARAMS in src/lib/gpu/prune.ts),
// grid.wgsl and nm-rank.wgsl.

@group(0) @binding(0) var<uniform> p : Params;
@group(0) @binding(1) var<storage, read_write> w : array<f32>;
@group(0) @binding(2) var<storage, read> s : array<f32>;
@group(0) @binding(3) var<storage, read_write> mask : array<u32>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid : vec3<u32>, @builtin(local_invocation_id) lid : vec3<u32>) {
  let it = grid_item(p.base, p.nx, wid, lid);
  if (it >= p.rows * p.ngroups) {
    return;
  }
  let r = it / p.ngroups;
  let j0 = (it % p.ngroups) * p.m;
  let len = min(p.m, p.cols - j0);
  let prune = nm_prune_count(p.n, p.m, len);
  let base = r * p.cols + j0;
  var sc : array<f32, NM_MAX_M>;
  for (var j = 0u; j < len; j++) {
    let v = w[base + j];
    if (p.mode == 0u) {
      sc[j] = abs(v);
    } else {
      sc[j] = (v * v) * s[j0 + j];
    }
  }
  for (var j = 0u; j < len; j++) {
    let pr = nm_rank(&sc, j, len) < prune;
    mask[base + j] = select(0u, 1u, pr);
    if (pr) {
      w[base + j] = 0.0;
    }
  }
}
