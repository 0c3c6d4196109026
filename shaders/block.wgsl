// The in-block column loop shared by GPTQ and SparseGPT (Frantar et al.): for each column
// i of the block [i1, i1+count): quantize (mode 0) or prune (mode 1: N:M chosen on the
// in-block-updated W every M columns; mode 2: unstructured, mask precomputed per block) every
// row's entry, err = (w − q)·(1/U[i][i]), then W[:, i+1 : i2] −= err ⊗ U[i, i+1 : i2].
// Rows are independent, so one invocation owns one row of the block in private memory and
// sweeps its columns alone: no workgroup barriers. Per column the row's work is only O(block),
// and a barrier per column is what software adapters (SwiftShader runs every barrier as a
// fiber switch on the CPU) cannot afford; on hardware W's many rows still fill the GPU.
// The result per row is the oracle's, operation for operation.
// Writes the block's q into W, err into errbuf ([rows · 128], for the lazy GEMM update) and
// the code (mode 0) or the mask bit (modes 1, 2) into out ([rows · cols]).
// Prefixed when the pipeline is built: `struct Params` (BLOCK_PARAMS in src/lib/gpu/solver.ts),
// grid.wgsl, quantizer.wgsl and nm-rank.wgsl.

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

const BW : u32 = 128u;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid : vec3<u32>, @builtin(local_invocation_id) lid : vec3<u32>) {
  let row = grid_item(p.base, p.nx, wid, lid);
  if (row >= p.rows) {
    return;
  }
  var w1 : array<f32, 128>;
  var msk : array<u32, 128>;
  let wrow = row * p.cols + p.i1;
  for (var t = 0u; t < p.count; t++) {
    w1[t] = w[wrow + t];
    if (p.mode == 2u) {
      msk[t] = bmask[row * BW + t];
    }
  }
  for (var i = 0u; i < p.count; i++) {
    if (p.mode == 1u && i % p.m == 0u) {
      // N:M on the in-block-updated weights: rank by w²/d², ties to the lower index.
      let len = min(p.m, p.count - i);
      let prune = nm_prune_count(p.n, p.m, len);
      var sc : array<f32, NM_MAX_M>;
      for (var j = 0u; j < len; j++) {
        let v = w1[i + j];
        sc[j] = (v * v) * dv[2u * (p.i1 + i + j) + 1u];
      }
      for (var j = 0u; j < len; j++) {
        msk[i + j] = select(0u, 1u, nm_rank(&sc, j, len) < prune);
      }
    }
    let wv = w1[i];
    let col = p.i1 + i;
    var q = 0.0;
    var code = 0u;
    if (p.mode == 0u) {
      let gi = row * p.groups + col / p.gs;
      let sc = qp[2u * gi];
      let z = qp[2u * gi + 1u];
      let c = quant_int(wv, sc, z, p.lo, p.hi);
      q = sc * (c - z);
      code = u32(c - p.lo);
    } else {
      code = msk[i];
      q = select(wv, 0.0, code != 0u);
    }
    let e = (wv - q) * dv[2u * col];
    w1[i] = q;
    errbuf[row * BW + i] = e;
    out[row * p.cols + col] = code;
    let urow = i * p.cols + p.i1;
    for (var t = i + 1u; t < p.count; t++) {
      w1[t] = w1[t] - e * u[urow + t];
    }
  }
  for (var t = 0u; t < p.count; t++) {
    w[wrow + t] = w1[t];
  }
}
