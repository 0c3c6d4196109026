// The in-block column loop shared by GPTQ and SparseGPT (compression-spec.md): for each column
// i of the block [i1, i1+count): quantize (mode 0) or prune (mode 1: N:M chosen on the
// in-block-updated W every M columns; mode 2: unstructured, mask precomputed per block) every
// row's entry, err = (w − q)·(1/U[i][i]), then W[:, i+1 : i2] −= err ⊗ U[i, i+1 : i2].
// A workgroup owns R rows of the block in workgroup memory; invocation t < R does row t's
// scalar step, then all 128 invocations (one per block column) apply the rank-1 update.
// Rows are independent, so the result per row is the oracle's, operation for operation.
// Writes the block's q into W, err into errbuf ([rows · 128], for the lazy GEMM update) and
// the code (mode 0) or the mask bit (modes 1, 2) into out ([rows · cols]).
struct Params {
  rows : u32,
  cols : u32,
  i1 : u32,
  count : u32,
  mode : u32,
  gs : u32,
  groups : u32,
  n : u32,
  m : u32,
  base : u32,
  nx : u32,
  lo : f32,
  hi : f32,
}

@group(0) @binding(0) var<uniform> p : Params;
@group(0) @binding(1) var<storage, read_write> w : array<f32>;
// Rows i1 .. i1+count of U, full width: u[i * cols + j] = U[i1 + i][j].
@group(0) @binding(2) var<storage, read> u : array<f32>;
// Interleaved (1/U[j][j], 1/U[j][j]²) per column.
@group(0) @binding(3) var<storage, read> dv : array<f32>;
// Interleaved (scale, zero) per (row, group).
@group(0) @binding(4) var<storage, read> qp : array<f32>;
@group(0) @binding(5) var<storage, read> bmask : array<u32>;
@group(0) @binding(6) var<storage, read_write> errbuf : array<f32>;
@group(0) @binding(7) var<storage, read_write> out : array<u32>;

const R : u32 = 8u;
const BW : u32 = 128u;
var<workgroup> w1 : array<f32, 1024>;
var<workgroup> msk : array<u32, 1024>;
var<workgroup> errs : array<f32, 8>;

fn select_nm(t : u32, i : u32) {
  let len = min(p.m, p.count - i);
  var prune = p.n;
  if (len != p.m) {
    prune = (p.n * len) / p.m;
  }
  var sc : array<f32, 32>;
  for (var j = 0u; j < len; j++) {
    let v = w1[t * BW + i + j];
    sc[j] = (v * v) * dv[2u * (p.i1 + i + j) + 1u];
  }
  for (var j = 0u; j < len; j++) {
    var rank = 0u;
    for (var k = 0u; k < len; k++) {
      if (k != j && (sc[k] < sc[j] || (sc[k] == sc[j] && k > j))) {
        rank++;
      }
    }
    msk[t * BW + i + j] = select(0u, 1u, rank < prune);
  }
}

@compute @workgroup_size(128)
fn main(@builtin(workgroup_id) wid : vec3<u32>, @builtin(local_invocation_id) lid : vec3<u32>) {
  let r0 = (p.base + wid.y * p.nx + wid.x) * R;
  if (r0 >= p.rows) {
    return;
  }
  let t = lid.x;
  for (var r = 0u; r < R; r++) {
    let row = r0 + r;
    var v = 0.0;
    var mk = 0u;
    if (row < p.rows && t < p.count) {
      v = w[row * p.cols + p.i1 + t];
      if (p.mode == 2u) {
        mk = bmask[row * BW + t];
      }
    }
    w1[r * BW + t] = v;
    msk[r * BW + t] = mk;
  }
  workgroupBarrier();
  for (var i = 0u; i < p.count; i++) {
    if (p.mode == 1u && i % p.m == 0u) {
      if (t < R && r0 + t < p.rows) {
        select_nm(t, i);
      }
      workgroupBarrier();
    }
    if (t < R) {
      let row = r0 + t;
      var e = 0.0;
      if (row < p.rows) {
        let wv = w1[t * BW + i];
        let col = p.i1 + i;
        var q = 0.0;
        var code = 0u;
        if (p.mode == 0u) {
          let gi = row * p.groups + col / p.gs;
          let sc = qp[2u * gi];
          let z = qp[2u * gi + 1u];
          let c = clamp(round(wv / sc) + z, p.lo, p.hi);
          q = sc * (c - z);
          code = u32(c - p.lo);
        } else {
          code = msk[t * BW + i];
          q = select(wv, 0.0, code != 0u);
        }
        e = (wv - q) * dv[2u * col];
        w1[t * BW + i] = q;
        errbuf[row * BW + i] = e;
        out[row * p.cols + col] = code;
      }
      errs[t] = e;
    }
    workgroupBarrier();
    if (t > i && t < p.count) {
      let uv = u[i * p.cols + p.i1 + t];
      for (var r = 0u; r < R; r++) {
        w1[r * BW + t] = w1[r * BW + t] - errs[r] * uv;
      }
    }
    workgroupBarrier();
  }
  for (var r = 0u; r < R; r++) {
    let row = r0 + r;
    if (row < p.rows && t < p.count) {
      w[row * p.cols + p.i1 + t] = w1[r * BW + t];
    }
  }
}
