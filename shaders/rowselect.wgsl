// Unstructured pruning per row: prune the k lowest-scoring entries of every row, ties pruned
// from the highest index down (the lower index is kept). One workgroup per row finds the
// k-th smallest score by a 4-pass radix select on the score's bits (scores are ≥ 0, so their
// bit patterns order like the values), then marks everything below it and the needed number
// of ties, counted from the right across contiguous per-invocation chunks.
// Scores: mode 0 = |w|, 1 = w²·s_j (see nm.wgsl).
// Prefixed when the pipeline is built: `struct Params` (ROWSELECT_PARAMS in src/lib/gpu/prune.ts),
// grid.wgsl.

@group(0) @binding(0) var<uniform> p : Params;
@group(0) @binding(1) var<storage, read_write> w : array<f32>;
@group(0) @binding(2) var<storage, read> s : array<f32>;
@group(0) @binding(3) var<storage, read_write> mask : array<u32>;

const WG : u32 = 256u;
var<workgroup> hist : array<atomic<u32>, 256>;
// x: bits of the k-th smallest found so far; y: its rank among the entries sharing those bits.
var<workgroup> sel : vec2<u32>;
var<workgroup> ties : array<u32, 256>;

fn score_bits(at : u32, j : u32) -> u32 {
  let v = w[at + j];
  if (p.mode == 0u) {
    return bitcast<u32>(abs(v));
  }
  return bitcast<u32>((v * v) * s[j]);
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid : vec3<u32>, @builtin(local_invocation_id) lid : vec3<u32>) {
  let r = grid_workgroup(p.base, p.nx, wid);
  if (r >= p.rows) {
    return;
  }
  let t = lid.x;
  let at = r * p.cols;
  if (t == 0u) {
    sel = vec2<u32>(0u, p.k - 1u);
  }
  for (var ps = 0u; ps < 4u; ps++) {
    let shift = 24u - 8u * ps;
    atomicStore(&hist[t], 0u);
    let cur = workgroupUniformLoad(&sel);
    for (var j = t; j < p.cols; j += WG) {
      let b = score_bits(at, j);
      var hit = true;
      if (ps > 0u) {
        hit = (b >> (shift + 8u)) == (cur.x >> (shift + 8u));
      }
      if (hit) {
        atomicAdd(&hist[(b >> shift) & 255u], 1u);
      }
    }
    workgroupBarrier();
    if (t == 0u) {
      var cum = 0u;
      var d = 0u;
      loop {
        let h = atomicLoad(&hist[d]);
        if (cum + h > cur.y || d == 255u) {
          break;
        }
        cum += h;
        d++;
      }
      sel = vec2<u32>(cur.x | (d << shift), cur.y - cum);
    }
    workgroupBarrier();
  }
  let fin = workgroupUniformLoad(&sel);
  let thr = fin.x;
  let need = fin.y + 1u;
  let chunk = (p.cols + WG - 1u) / WG;
  let lo = min(p.cols, t * chunk);
  let hi = min(p.cols, lo + chunk);
  var c = 0u;
  for (var j = lo; j < hi; j++) {
    if (score_bits(at, j) == thr) {
      c++;
    }
  }
  ties[t] = c;
  workgroupBarrier();
  var after = 0u;
  for (var u = t + 1u; u < WG; u++) {
    after += ties[u];
  }
  var seen = 0u;
  for (var j = hi; j > lo; j--) {
    let jj = j - 1u;
    let b = score_bits(at, jj);
    var pr = b < thr;
    if (b == thr) {
      pr = after + seen < need;
      seen++;
    }
    mask[at + jj] = select(0u, 1u, pr);
    if (pr) {
      w[at + jj] = 0.0;
    }
  }
}
