// MatMulNBits packing (see src/lib/compress/reference/pack.ts for the layout) from unsigned codes
// ([N · K] u32) and interleaved (scale, zero) pairs per (row, block) with the zero in the
// quantizer's clamp domain (zero point = zero − lo). One invocation per output u32 word for
// B and the zero points, one per block for the scales. K is padded to whole blocks with the
// block's zero point (a zero weight). Every entry point touches every binding so the bind
// groups built from the auto layouts are interchangeable.
// Prefixed when the pipeline is built: `struct Params` (PACK_PARAMS in src/lib/gpu/pack.ts),
// grid.wgsl.

@group(0) @binding(0) var<uniform> p : Params;
@group(0) @binding(1) var<storage, read> codes : array<u32>;
@group(0) @binding(2) var<storage, read> qp : array<f32>;
@group(0) @binding(3) var<storage, read_write> outb : array<u32>;
@group(0) @binding(4) var<storage, read_write> outz : array<u32>;
@group(0) @binding(5) var<storage, read_write> outs : array<f32>;

fn zp_of(idx : u32) -> u32 {
  return u32(qp[2u * idx + 1u] - p.lo);
}

fn code_at(n : u32, k : u32, z : u32) -> u32 {
  if (k < p.k) {
    return codes[n * p.k + k];
  }
  return z;
}

fn touch_all() {
  _ = codes[0];
  _ = qp[0];
  _ = outb[0];
  _ = outz[0];
  _ = outs[0];
}

@compute @workgroup_size(64)
fn pack_b(@builtin(workgroup_id) wid : vec3<u32>, @builtin(local_invocation_id) lid : vec3<u32>) {
  touch_all();
  let wi = grid_item(p.base, p.nx, wid, lid);
  if (wi * 4u >= p.total_bytes) {
    return;
  }
  let row_bytes = p.blocks * p.block_bytes;
  var word = 0u;
  for (var by = 0u; by < 4u; by++) {
    let gb = wi * 4u + by;
    if (gb >= p.total_bytes) {
      break;
    }
    let n = gb / row_bytes;
    let b = (gb % row_bytes) / p.block_bytes;
    let i = gb % p.block_bytes;
    let z = zp_of(n * p.blocks + b);
    var v = 0u;
    if (p.bits == 8u) {
      v = code_at(n, b * p.block + i, z);
    } else {
      let k0 = b * p.block + 2u * i;
      v = (code_at(n, k0, z) & 15u) | ((code_at(n, k0 + 1u, z) & 15u) << 4u);
    }
    word = word | ((v & 255u) << (8u * by));
  }
  outb[wi] = word;
}

@compute @workgroup_size(64)
fn pack_zp(@builtin(workgroup_id) wid : vec3<u32>, @builtin(local_invocation_id) lid : vec3<u32>) {
  touch_all();
  let wi = grid_item(p.base, p.nx, wid, lid);
  if (wi * 4u >= p.zp_bytes) {
    return;
  }
  var word = 0u;
  for (var by = 0u; by < 4u; by++) {
    let gb = wi * 4u + by;
    if (gb >= p.zp_bytes) {
      break;
    }
    let n = gb / p.zp_row_bytes;
    let j = gb % p.zp_row_bytes;
    var v = 0u;
    if (p.bits == 8u) {
      v = zp_of(n * p.blocks + j);
    } else {
      v = zp_of(n * p.blocks + 2u * j) & 15u;
      if (2u * j + 1u < p.blocks) {
        v = v | ((zp_of(n * p.blocks + 2u * j + 1u) & 15u) << 4u);
      }
    }
    word = word | ((v & 255u) << (8u * by));
  }
  outz[wi] = word;
}

@compute @workgroup_size(64)
fn pack_scales(@builtin(workgroup_id) wid : vec3<u32>, @builtin(local_invocation_id) lid : vec3<u32>) {
  touch_all();
  let i = grid_item(p.base, p.nx, wid, lid);
  if (i >= p.n * p.blocks) {
    return;
  }
  outs[i] = qp[2u * i];
}
