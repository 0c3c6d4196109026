// SparseGPT's unstructured block mask: thresh = the element of rank k (ascending) among the
// scores w²·(1/d²) of a whole block (all rows × block columns), then mask = score ≤ thresh.
// A radix select over the score bits (≥ 0, so they order like the values) with a global
// 256-bin histogram: per pass, `hist` runs over every row chunk, then `pick` (one invocation)
// narrows the prefix. state[0..256) = histogram, state[256] = prefix, state[257] = rank
// remaining within the prefix; the host zeroes it and sets state[257] = k before pass 0.
// `mark` writes the block mask ([rows · 128]). Every entry point touches every binding so
// the bind groups built from the auto layouts are interchangeable.
// Prefixed when the pipeline is built: `struct Params` (SELECT_PARAMS in src/lib/gpu/solver.ts),
// grid.wgsl.

@group(0) @binding(0) var<uniform> p : Params;
@group(0) @binding(1) var<storage, read> w : array<f32>;
@group(0) @binding(2) var<storage, read> dv : array<f32>;
@group(0) @binding(3) var<storage, read_write> state : array<atomic<u32>>;
@group(0) @binding(4) var<storage, read_write> bmask : array<u32>;

const BW : u32 = 128u;

fn score_bits(r : u32, c : u32) -> u32 {
  let v = w[r * p.cols + p.i1 + c];
  return bitcast<u32>((v * v) * dv[2u * (p.i1 + c) + 1u]);
}

@compute @workgroup_size(64)
fn hist(@builtin(workgroup_id) wid : vec3<u32>, @builtin(local_invocation_id) lid : vec3<u32>) {
  _ = bmask[0];
  let it = grid_item(p.base, p.nx, wid, lid);
  if (it >= p.rows * p.count) {
    return;
  }
  let b = score_bits(it / p.count, it % p.count);
  if (p.first == 0u) {
    let prefix = atomicLoad(&state[256]);
    if ((b >> (p.shift + 8u)) != (prefix >> (p.shift + 8u))) {
      return;
    }
  }
  atomicAdd(&state[(b >> p.shift) & 255u], 1u);
}

@compute @workgroup_size(1)
fn pick() {
  _ = w[0];
  _ = dv[0];
  _ = bmask[0];
  let rem = atomicLoad(&state[257]);
  var cum = 0u;
  var d = 0u;
  loop {
    let h = atomicLoad(&state[d]);
    if (cum + h > rem || d == 255u) {
      break;
    }
    cum += h;
    d++;
  }
  atomicStore(&state[256], atomicLoad(&state[256]) | (d << p.shift));
  atomicStore(&state[257], rem - cum);
  for (var i = 0u; i < 256u; i++) {
    atomicStore(&state[i], 0u);
  }
}

@compute @workgroup_size(64)
fn mark(@builtin(workgroup_id) wid : vec3<u32>, @builtin(local_invocation_id) lid : vec3<u32>) {
  let it = grid_item(p.base, p.nx, wid, lid);
  if (it >= p.rows * p.count) {
    return;
  }
  let r = it / p.count;
  let c = it % p.count;
  let thr = atomicLoad(&state[256]);
  bmask[r * BW + c] = select(0u, 1u, score_bits(r, c) <= thr);
}
