// AssemblyScript: the CPU hot loops of `src/lib/compress/reference/blocked.ts` on WebAssembly
// SIMD. Every output entry receives exactly the fp32 operations of the TypeScript kernel, in the
// same order (one lane per entry: a lane's multiply and add round to fp32 as `Math.fround` does),
// so the results are bit-identical; the lanes only process four neighbouring entries at once.
// Buffers live in this module's memory at byte offsets the caller chooses; matrices are fp32,
// row-major, with leading dimensions in elements. Build: `npm run build:wasm`.


@inline function at(base: usize, index: i32): usize {
  return base + (<usize>index << 2);
}

/**
 * C[r][n] ← C[r][n] − s, s = Σ_k A[r][k]·B[k][n] summed in fp32 from 0, k ascending
 * (GPTQ's lazy update of the later blocks).
 */
export function subtractSum(rows: i32, width: i32, K: i32, a: usize, lda: i32, b: usize, ldb: i32, c: usize, ldc: i32): void {
  let r = 0;
  for (; r + 3 < rows; r += 4) {
    const e0 = at(a, r * lda);
    const e1 = at(e0, lda);
    const e2 = at(e1, lda);
    const e3 = at(e2, lda);
    let n = 0;
    for (; n + 7 < width; n += 8) {
      let s00 = f32x4.splat(0);
      let s01 = f32x4.splat(0);
      let s10 = f32x4.splat(0);
      let s11 = f32x4.splat(0);
      let s20 = f32x4.splat(0);
      let s21 = f32x4.splat(0);
      let s30 = f32x4.splat(0);
      let s31 = f32x4.splat(0);
      let u = at(b, n);
      const step = <usize>ldb << 2;
      for (let k = 0; k < K; k++, u += step) {
        const p = v128.load(u);
        const q = v128.load(u, 16);
        const o = <usize>k << 2;
        let x = f32x4.splat(load<f32>(e0 + o));
        s00 = f32x4.add(s00, f32x4.mul(x, p));
        s01 = f32x4.add(s01, f32x4.mul(x, q));
        x = f32x4.splat(load<f32>(e1 + o));
        s10 = f32x4.add(s10, f32x4.mul(x, p));
        s11 = f32x4.add(s11, f32x4.mul(x, q));
        x = f32x4.splat(load<f32>(e2 + o));
        s20 = f32x4.add(s20, f32x4.mul(x, p));
        s21 = f32x4.add(s21, f32x4.mul(x, q));
        x = f32x4.splat(load<f32>(e3 + o));
        s30 = f32x4.add(s30, f32x4.mul(x, p));
        s31 = f32x4.add(s31, f32x4.mul(x, q));
      }
      let w = at(c, r * ldc + n);
      const row = <usize>ldc << 2;
      v128.store(w, f32x4.sub(v128.load(w), s00));
      v128.store(w, f32x4.sub(v128.load(w, 16), s01), 16);
      w += row;
      v128.store(w, f32x4.sub(v128.load(w), s10));
      v128.store(w, f32x4.sub(v128.load(w, 16), s11), 16);
      w += row;
      v128.store(w, f32x4.sub(v128.load(w), s20));
      v128.store(w, f32x4.sub(v128.load(w, 16), s21), 16);
      w += row;
      v128.store(w, f32x4.sub(v128.load(w), s30));
      v128.store(w, f32x4.sub(v128.load(w, 16), s31), 16);
    }
    subtractSumScalar(4, n, width, K, at(a, r * lda), lda, b, ldb, at(c, r * ldc), ldc);
  }
  subtractSumScalar(rows - r, 0, width, K, at(a, r * lda), lda, b, ldb, at(c, r * ldc), ldc);
}

function subtractSumScalar(rows: i32, n0: i32, n1: i32, K: i32, a: usize, lda: i32, b: usize, ldb: i32, c: usize, ldc: i32): void {
  for (let r = 0; r < rows; r++) {
    for (let n = n0; n < n1; n++) {
      let s: f32 = 0;
      for (let k = 0; k < K; k++) s += load<f32>(at(a, r * lda + k)) * load<f32>(at(b, k * ldb + n));
      const w = at(c, r * ldc + n);
      store<f32>(w, load<f32>(w) - s);
    }
  }
}

/**
 * C[r][n] ← C[r][n] − A[r][k]·B[k][n] for k = 0 … K−1 in turn (the in-block update, one
 * committed column at a time).
 */
export function subtractEach(rows: i32, width: i32, K: i32, a: usize, lda: i32, b: usize, ldb: i32, c: usize, ldc: i32): void {
  let r = 0;
  for (; r + 3 < rows; r += 4) {
    const e0 = at(a, r * lda);
    const e1 = at(e0, lda);
    const e2 = at(e1, lda);
    const e3 = at(e2, lda);
    const row = <usize>ldc << 2;
    let n = 0;
    for (; n + 7 < width; n += 8) {
      const w0 = at(c, r * ldc + n);
      const w1 = w0 + row;
      const w2 = w1 + row;
      const w3 = w2 + row;
      let c00 = v128.load(w0);
      let c01 = v128.load(w0, 16);
      let c10 = v128.load(w1);
      let c11 = v128.load(w1, 16);
      let c20 = v128.load(w2);
      let c21 = v128.load(w2, 16);
      let c30 = v128.load(w3);
      let c31 = v128.load(w3, 16);
      let u = at(b, n);
      const step = <usize>ldb << 2;
      for (let k = 0; k < K; k++, u += step) {
        const p = v128.load(u);
        const q = v128.load(u, 16);
        const o = <usize>k << 2;
        let x = f32x4.splat(load<f32>(e0 + o));
        c00 = f32x4.sub(c00, f32x4.mul(x, p));
        c01 = f32x4.sub(c01, f32x4.mul(x, q));
        x = f32x4.splat(load<f32>(e1 + o));
        c10 = f32x4.sub(c10, f32x4.mul(x, p));
        c11 = f32x4.sub(c11, f32x4.mul(x, q));
        x = f32x4.splat(load<f32>(e2 + o));
        c20 = f32x4.sub(c20, f32x4.mul(x, p));
        c21 = f32x4.sub(c21, f32x4.mul(x, q));
        x = f32x4.splat(load<f32>(e3 + o));
        c30 = f32x4.sub(c30, f32x4.mul(x, p));
        c31 = f32x4.sub(c31, f32x4.mul(x, q));
      }
      v128.store(w0, c00);
      v128.store(w0, c01, 16);
      v128.store(w1, c10);
      v128.store(w1, c11, 16);
      v128.store(w2, c20);
      v128.store(w2, c21, 16);
      v128.store(w3, c30);
      v128.store(w3, c31, 16);
    }
    subtractEachScalar(4, n, width, K, at(a, r * lda), lda, b, ldb, at(c, r * ldc), ldc);
  }
  subtractEachScalar(rows - r, 0, width, K, at(a, r * lda), lda, b, ldb, at(c, r * ldc), ldc);
}

function subtractEachScalar(rows: i32, n0: i32, n1: i32, K: i32, a: usize, lda: i32, b: usize, ldb: i32, c: usize, ldc: i32): void {
  for (let r = 0; r < rows; r++) {
    for (let n = n0; n < n1; n++) {
      const w = at(c, r * ldc + n);
      let v = load<f32>(w);
      for (let k = 0; k < K; k++) v -= load<f32>(at(a, r * lda + k)) * load<f32>(at(b, k * ldb + n));
      store<f32>(w, v);
    }
  }
}

/**
 * out[i][j] = Σ_t X[t][i]·X[t][j] (X: T × n) summed in fp32 from 0, t ascending, for the lower
 * triangle j ≤ i and mirrored. Tiles of 4 rows × 8 columns may reach past the diagonal; those
 * entries are overwritten by the mirror, whose values are the same sums.
 */
export function gram(x: usize, T: i32, n: i32, out: usize): void {
  const rowBytes = <usize>n << 2;
  let i = 0;
  for (; i + 3 < n; i += 4) {
    let j = 0;
    // Tiles whose first column is at most the tile's last row: they hold every j ≤ i + 3.
    for (; j <= i + 3 && j + 7 < n; j += 8) {
      let s00 = f32x4.splat(0);
      let s01 = f32x4.splat(0);
      let s10 = f32x4.splat(0);
      let s11 = f32x4.splat(0);
      let s20 = f32x4.splat(0);
      let s21 = f32x4.splat(0);
      let s30 = f32x4.splat(0);
      let s31 = f32x4.splat(0);
      let rowp = x;
      for (let t = 0; t < T; t++, rowp += rowBytes) {
        const p = v128.load(at(rowp, j));
        const q = v128.load(at(rowp, j), 16);
        const xi = at(rowp, i);
        let a = f32x4.splat(load<f32>(xi));
        s00 = f32x4.add(s00, f32x4.mul(a, p));
        s01 = f32x4.add(s01, f32x4.mul(a, q));
        a = f32x4.splat(load<f32>(xi, 4));
        s10 = f32x4.add(s10, f32x4.mul(a, p));
        s11 = f32x4.add(s11, f32x4.mul(a, q));
        a = f32x4.splat(load<f32>(xi, 8));
        s20 = f32x4.add(s20, f32x4.mul(a, p));
        s21 = f32x4.add(s21, f32x4.mul(a, q));
        a = f32x4.splat(load<f32>(xi, 12));
        s30 = f32x4.add(s30, f32x4.mul(a, p));
        s31 = f32x4.add(s31, f32x4.mul(a, q));
      }
      const o = at(out, i * n + j);
      v128.store(o, s00);
      v128.store(o, s01, 16);
      v128.store(o + rowBytes, s10);
      v128.store(o + rowBytes, s11, 16);
      v128.store(o + 2 * rowBytes, s20);
      v128.store(o + 2 * rowBytes, s21, 16);
      v128.store(o + 3 * rowBytes, s30);
      v128.store(o + 3 * rowBytes, s31, 16);
    }
    // What no full tile reached: j up to i + 3 near the right edge.
    for (let r = i; r < i + 4; r++) for (let col = j; col <= r; col++) store<f32>(at(out, r * n + col), gramEntry(x, T, n, r, col));
  }
  for (; i < n; i++) for (let col = 0; col <= i; col++) store<f32>(at(out, i * n + col), gramEntry(x, T, n, i, col));
  for (let r = 0; r < n; r++) for (let col = r + 1; col < n; col++) store<f32>(at(out, r * n + col), load<f32>(at(out, col * n + r)));
}

function gramEntry(x: usize, T: i32, n: i32, i: i32, j: i32): f32 {
  let s: f32 = 0;
  for (let t = 0; t < T; t++) s += load<f32>(at(x, t * n + i)) * load<f32>(at(x, t * n + j));
  return s;
}

/**
 * y[s][o] = Σ_i x[s][i]·w[o][i] in fp64 from 0, i ascending, rounded to fp32 once (the
 * calibration forwards' and error report's linear). The products of two fp32 values are exact
 * in fp64, so a lane repeats the scalar sum exactly. `w4` holds W four rows at a time, row-
 * interleaved (group g: w[4g][i], w[4g+1][i], w[4g+2][i], w[4g+3][i] for i ascending), padded
 * with zero rows; outputs past `outF` are not written.
 */
export function linear(x: usize, w4: usize, S: i32, inF: i32, outF: i32, y: usize): void {
  const groups = (outF + 3) >> 2;
  const xRow = <usize>inF << 2;
  const yRow = <usize>outF << 2;
  const groupBytes = <usize>inF << 4;
  let s = 0;
  for (; s + 3 < S; s += 4) {
    const x0 = x + <usize>s * xRow;
    for (let g = 0; g < groups; g++) {
      let a0l = f64x2.splat(0);
      let a0h = f64x2.splat(0);
      let a1l = f64x2.splat(0);
      let a1h = f64x2.splat(0);
      let a2l = f64x2.splat(0);
      let a2h = f64x2.splat(0);
      let a3l = f64x2.splat(0);
      let a3h = f64x2.splat(0);
      let wp = w4 + <usize>g * groupBytes;
      for (let i = 0; i < inF; i++, wp += 16) {
        const wv = v128.load(wp);
        const lo = f64x2.promote_low_f32x4(wv);
        const hi = f64x2.promote_low_f32x4(v128.shuffle<i32>(wv, wv, 2, 3, 0, 1));
        const o = <usize>i << 2;
        let p = f64x2.splat(<f64>load<f32>(x0 + o));
        a0l = f64x2.add(a0l, f64x2.mul(p, lo));
        a0h = f64x2.add(a0h, f64x2.mul(p, hi));
        p = f64x2.splat(<f64>load<f32>(x0 + xRow + o));
        a1l = f64x2.add(a1l, f64x2.mul(p, lo));
        a1h = f64x2.add(a1h, f64x2.mul(p, hi));
        p = f64x2.splat(<f64>load<f32>(x0 + 2 * xRow + o));
        a2l = f64x2.add(a2l, f64x2.mul(p, lo));
        a2h = f64x2.add(a2h, f64x2.mul(p, hi));
        p = f64x2.splat(<f64>load<f32>(x0 + 3 * xRow + o));
        a3l = f64x2.add(a3l, f64x2.mul(p, lo));
        a3h = f64x2.add(a3h, f64x2.mul(p, hi));
      }
      const yo = y + <usize>s * yRow;
      storeFour(yo, g, outF, a0l, a0h);
      storeFour(yo + yRow, g, outF, a1l, a1h);
      storeFour(yo + 2 * yRow, g, outF, a2l, a2h);
      storeFour(yo + 3 * yRow, g, outF, a3l, a3h);
    }
  }
  for (; s < S; s++) {
    const xs = x + <usize>s * xRow;
    for (let g = 0; g < groups; g++) {
      let al = f64x2.splat(0);
      let ah = f64x2.splat(0);
      let wp = w4 + <usize>g * groupBytes;
      for (let i = 0; i < inF; i++, wp += 16) {
        const wv = v128.load(wp);
        const p = f64x2.splat(<f64>load<f32>(xs + (<usize>i << 2)));
        al = f64x2.add(al, f64x2.mul(p, f64x2.promote_low_f32x4(wv)));
        ah = f64x2.add(ah, f64x2.mul(p, f64x2.promote_low_f32x4(v128.shuffle<i32>(wv, wv, 2, 3, 0, 1))));
      }
      storeFour(y + <usize>s * yRow, g, outF, al, ah);
    }
  }
}

@inline function storeFour(row: usize, g: i32, outF: i32, lo: v128, hi: v128): void {
  const o = g << 2;
  const p = row + (<usize>o << 2);
  if (o + 3 < outF) {
    v128.store64_lane(p, f32x4.demote_f64x2_zero(lo), 0);
    v128.store64_lane(p + 8, f32x4.demote_f64x2_zero(hi), 0);
  } else {
    store<f32>(p, <f32>f64x2.extract_lane(lo, 0));
    if (o + 1 < outF) store<f32>(p, <f32>f64x2.extract_lane(lo, 1), 4);
    if (o + 2 < outF) store<f32>(p, <f32>f64x2.extract_lane(hi, 0), 8);
  }
}

/**
 * y[s][o] = Σ_i x[s][i]·w[o][i] in fp32 from 0, i ascending (each product and sum rounded to
 * fp32): `linear` at the precision of AWQ's search losses. Same interleaved `w4` layout; a tile
 * is 4 tokens × 8 outputs (two row groups), eight accumulators, so every weight vector loaded
 * serves four tokens and every token value eight outputs.
 */
export function linear32(x: usize, w4: usize, S: i32, inF: i32, outF: i32, y: usize): void {
  const groups = (outF + 3) >> 2;
  const xRow = <usize>inF << 2;
  const yRow = <usize>outF << 2;
  const groupBytes = <usize>inF << 4;
  let s = 0;
  for (; s + 3 < S; s += 4) {
    const x0 = x + <usize>s * xRow;
    const yo = y + <usize>s * yRow;
    let g = 0;
    for (; g + 1 < groups; g += 2) {
      let a0 = f32x4.splat(0);
      let b0 = f32x4.splat(0);
      let a1 = f32x4.splat(0);
      let b1 = f32x4.splat(0);
      let a2 = f32x4.splat(0);
      let b2 = f32x4.splat(0);
      let a3 = f32x4.splat(0);
      let b3 = f32x4.splat(0);
      let wp = w4 + <usize>g * groupBytes;
      for (let i = 0; i < inF; i++, wp += 16) {
        const wa = v128.load(wp);
        const wb = v128.load(wp + groupBytes);
        const o = <usize>i << 2;
        let p = f32x4.splat(load<f32>(x0 + o));
        a0 = f32x4.add(a0, f32x4.mul(p, wa));
        b0 = f32x4.add(b0, f32x4.mul(p, wb));
        p = f32x4.splat(load<f32>(x0 + xRow + o));
        a1 = f32x4.add(a1, f32x4.mul(p, wa));
        b1 = f32x4.add(b1, f32x4.mul(p, wb));
        p = f32x4.splat(load<f32>(x0 + 2 * xRow + o));
        a2 = f32x4.add(a2, f32x4.mul(p, wa));
        b2 = f32x4.add(b2, f32x4.mul(p, wb));
        p = f32x4.splat(load<f32>(x0 + 3 * xRow + o));
        a3 = f32x4.add(a3, f32x4.mul(p, wa));
        b3 = f32x4.add(b3, f32x4.mul(p, wb));
      }
      storeGroup(yo, g, outF, a0);
      storeGroup(yo, g + 1, outF, b0);
      storeGroup(yo + yRow, g, outF, a1);
      storeGroup(yo + yRow, g + 1, outF, b1);
      storeGroup(yo + 2 * yRow, g, outF, a2);
      storeGroup(yo + 2 * yRow, g + 1, outF, b2);
      storeGroup(yo + 3 * yRow, g, outF, a3);
      storeGroup(yo + 3 * yRow, g + 1, outF, b3);
    }
    for (; g < groups; g++) {
      let a0 = f32x4.splat(0);
      let a1 = f32x4.splat(0);
      let a2 = f32x4.splat(0);
      let a3 = f32x4.splat(0);
      let wp = w4 + <usize>g * groupBytes;
      for (let i = 0; i < inF; i++, wp += 16) {
        const wa = v128.load(wp);
        const o = <usize>i << 2;
        a0 = f32x4.add(a0, f32x4.mul(f32x4.splat(load<f32>(x0 + o)), wa));
        a1 = f32x4.add(a1, f32x4.mul(f32x4.splat(load<f32>(x0 + xRow + o)), wa));
        a2 = f32x4.add(a2, f32x4.mul(f32x4.splat(load<f32>(x0 + 2 * xRow + o)), wa));
        a3 = f32x4.add(a3, f32x4.mul(f32x4.splat(load<f32>(x0 + 3 * xRow + o)), wa));
      }
      storeGroup(yo, g, outF, a0);
      storeGroup(yo + yRow, g, outF, a1);
      storeGroup(yo + 2 * yRow, g, outF, a2);
      storeGroup(yo + 3 * yRow, g, outF, a3);
    }
  }
  for (; s < S; s++) {
    const xs = x + <usize>s * xRow;
    for (let g = 0; g < groups; g++) {
      let a = f32x4.splat(0);
      let wp = w4 + <usize>g * groupBytes;
      for (let i = 0; i < inF; i++, wp += 16) a = f32x4.add(a, f32x4.mul(f32x4.splat(load<f32>(xs + (<usize>i << 2))), v128.load(wp)));
      storeGroup(y + <usize>s * yRow, g, outF, a);
    }
  }
}

/** Row `row`'s outputs 4g…4g+3 from one fp32 vector, those past `outF` left unwritten. */
@inline function storeGroup(row: usize, g: i32, outF: i32, v: v128): void {
  const o = g << 2;
  const p = row + (<usize>o << 2);
  if (o + 3 < outF) v128.store(p, v);
  else {
    store<f32>(p, f32x4.extract_lane(v, 0));
    if (o + 1 < outF) store<f32>(p, f32x4.extract_lane(v, 1), 4);
    if (o + 2 < outF) store<f32>(p, f32x4.extract_lane(v, 2), 8);
  }
}

// The fp64 factorisations of `src/lib/compress/reference/linalg.ts`. Rows are stored in pairs,
// entry by entry: row 2q's entry k at `p + (q·2n + 2k)·8`, row 2q+1's right after it, so one
// vector holds two rows' entry k and each lane follows one row's chain (n even: the caller pads
// an odd matrix with a unit row). Each entry still gets the TypeScript loop's operations in its
// order: products subtracted k ascending from its own start, then the division or the root.

@inline function pairRow(p: usize, n: i32, i: i32): usize {
  return p + (<usize>(i >> 1) * (<usize>n << 4)) + (<usize>(i & 1) << 3);
}

@inline function entry(row: usize, k: i32): f64 {
  return load<f64>(row + (<usize>k << 4));
}

/**
 * In place, the lower Cholesky factor of the paired matrix at `p` (its entries on and below the
 * diagonal; those above keep A's). Returns −1, or the first row whose pivot is not positive and
 * finite (the factor is then incomplete).
 */
export function cholesky(p: usize, n: i32): i32 {
  for (let i = 0; i < n; i += 2) {
    const pi = pairRow(p, n, i);
    let j = 0;
    for (; j + 3 < i; j += 4) {
      const r0 = pairRow(p, n, j);
      const r1 = pairRow(p, n, j + 1);
      const r2 = pairRow(p, n, j + 2);
      const r3 = pairRow(p, n, j + 3);
      const at = pi + (<usize>j << 4);
      let s0 = v128.load(at);
      let s1 = v128.load(at, 16);
      let s2 = v128.load(at, 32);
      let s3 = v128.load(at, 48);
      for (let k = 0; k < j; k++) {
        const o = <usize>k << 4;
        const x = v128.load(pi + o);
        s0 = f64x2.sub(s0, f64x2.mul(x, f64x2.splat(load<f64>(r0 + o))));
        s1 = f64x2.sub(s1, f64x2.mul(x, f64x2.splat(load<f64>(r1 + o))));
        s2 = f64x2.sub(s2, f64x2.mul(x, f64x2.splat(load<f64>(r2 + o))));
        s3 = f64x2.sub(s3, f64x2.mul(x, f64x2.splat(load<f64>(r3 + o))));
      }
      const l0 = f64x2.div(s0, f64x2.splat(entry(r0, j)));
      s1 = f64x2.sub(s1, f64x2.mul(l0, f64x2.splat(entry(r1, j))));
      const l1 = f64x2.div(s1, f64x2.splat(entry(r1, j + 1)));
      s2 = f64x2.sub(s2, f64x2.mul(l0, f64x2.splat(entry(r2, j))));
      s2 = f64x2.sub(s2, f64x2.mul(l1, f64x2.splat(entry(r2, j + 1))));
      const l2 = f64x2.div(s2, f64x2.splat(entry(r2, j + 2)));
      s3 = f64x2.sub(s3, f64x2.mul(l0, f64x2.splat(entry(r3, j))));
      s3 = f64x2.sub(s3, f64x2.mul(l1, f64x2.splat(entry(r3, j + 1))));
      s3 = f64x2.sub(s3, f64x2.mul(l2, f64x2.splat(entry(r3, j + 2))));
      v128.store(at, l0);
      v128.store(at, l1, 16);
      v128.store(at, l2, 32);
      v128.store(at, f64x2.div(s3, f64x2.splat(entry(r3, j + 3))), 48);
    }
    for (; j < i; j++) {
      const rj = pairRow(p, n, j);
      const at = pi + (<usize>j << 4);
      let s = v128.load(at);
      for (let k = 0; k < j; k++) {
        const o = <usize>k << 4;
        s = f64x2.sub(s, f64x2.mul(v128.load(pi + o), f64x2.splat(load<f64>(rj + o))));
      }
      v128.store(at, f64x2.div(s, f64x2.splat(entry(rj, j))));
    }
    // Column i: row i's pivot in lane 0, row i+1's entry below it in lane 1.
    const at = pi + (<usize>i << 4);
    let s = v128.load(at);
    for (let k = 0; k < i; k++) {
      const o = <usize>k << 4;
      s = f64x2.sub(s, f64x2.mul(v128.load(pi + o), f64x2.splat(load<f64>(pi + o))));
    }
    const d = f64x2.extract_lane(s, 0);
    if (!(d > 0) || !isFinite(d)) return i;
    const li = Math.sqrt(d);
    store<f64>(at, li);
    const below = f64x2.extract_lane(s, 1) / li;
    store<f64>(at, below, 8);
    // Row i+1's pivot.
    const rn = pi + 8;
    let t = load<f64>(rn + ((<usize>i + 1) << 4));
    for (let k = 0; k <= i; k++) {
      const v = entry(rn, k);
      t -= v * v;
    }
    if (!(t > 0) || !isFinite(t)) return i + 1;
    store<f64>(rn + ((<usize>i + 1) << 4), Math.sqrt(t));
  }
  return -1;
}

@inline function tAt(t: usize, n: i32, c: i32, k: i32): usize {
  return t + ((<usize>c * <usize>n + <usize>k) << 3);
}

/** Column c of L⁻¹ for rows c…until−1, one entry at a time, into row c of T (row-major n×n). */
function substituteColumn(p: usize, n: i32, t: usize, c: i32, until: i32): void {
  store<f64>(tAt(t, n, c, c), 1 / entry(pairRow(p, n, c), c));
  for (let i = c + 1; i < until; i++) {
    const ri = pairRow(p, n, i);
    let s: f64 = 0;
    for (let k = c; k < i; k++) s -= entry(ri, k) * load<f64>(tAt(t, n, c, k));
    store<f64>(tAt(t, n, c, i), s / entry(ri, i));
  }
}

/**
 * L⁻¹ of the paired lower factor at `p` (what `cholesky` leaves; n even), transposed into T at
 * `t` (row c of T is column c of L⁻¹; entries above it zero as the caller gives them). Four
 * columns advance together over pairs of rows: a vector holds rows i and i+1, and row i+1 takes
 * row i's fresh entry last, as its chain reaches k = i.
 */
export function invertLower(p: usize, n: i32, t: usize): void {
  let c = 0;
  for (; c + 3 < n; c += 4) {
    for (let q = c; q < c + 4; q++) substituteColumn(p, n, t, q, c + 4);
    const t0 = tAt(t, n, c, 0);
    const t1 = tAt(t, n, c + 1, 0);
    const t2 = tAt(t, n, c + 2, 0);
    const t3 = tAt(t, n, c + 3, 0);
    for (let i = c + 4; i < n; i += 2) {
      const pi = pairRow(p, n, i);
      let s0 = f64x2.splat(0);
      let s1 = f64x2.splat(0);
      let s2 = f64x2.splat(0);
      let s3 = f64x2.splat(0);
      // Each column's chain starts at its own diagonal, inside the 4×4 tile.
      for (let k = c; k < c + 4; k++) {
        const x = v128.load(pi + (<usize>k << 4));
        const o = <usize>k << 3;
        s0 = f64x2.sub(s0, f64x2.mul(x, f64x2.splat(load<f64>(t0 + o))));
        if (k >= c + 1) s1 = f64x2.sub(s1, f64x2.mul(x, f64x2.splat(load<f64>(t1 + o))));
        if (k >= c + 2) s2 = f64x2.sub(s2, f64x2.mul(x, f64x2.splat(load<f64>(t2 + o))));
        if (k >= c + 3) s3 = f64x2.sub(s3, f64x2.mul(x, f64x2.splat(load<f64>(t3 + o))));
      }
      for (let k = c + 4; k < i; k++) {
        const x = v128.load(pi + (<usize>k << 4));
        const o = <usize>k << 3;
        s0 = f64x2.sub(s0, f64x2.mul(x, f64x2.splat(load<f64>(t0 + o))));
        s1 = f64x2.sub(s1, f64x2.mul(x, f64x2.splat(load<f64>(t1 + o))));
        s2 = f64x2.sub(s2, f64x2.mul(x, f64x2.splat(load<f64>(t2 + o))));
        s3 = f64x2.sub(s3, f64x2.mul(x, f64x2.splat(load<f64>(t3 + o))));
      }
      const di = entry(pi, i);
      const m = entry(pi + 8, i);
      const dn = entry(pi + 8, i + 1);
      const o = <usize>i << 3;
      const a0 = f64x2.extract_lane(s0, 0) / di;
      const a1 = f64x2.extract_lane(s1, 0) / di;
      const a2 = f64x2.extract_lane(s2, 0) / di;
      const a3 = f64x2.extract_lane(s3, 0) / di;
      store<f64>(t0 + o, a0);
      store<f64>(t1 + o, a1);
      store<f64>(t2 + o, a2);
      store<f64>(t3 + o, a3);
      store<f64>(t0 + o, (f64x2.extract_lane(s0, 1) - m * a0) / dn, 8);
      store<f64>(t1 + o, (f64x2.extract_lane(s1, 1) - m * a1) / dn, 8);
      store<f64>(t2 + o, (f64x2.extract_lane(s2, 1) - m * a2) / dn, 8);
      store<f64>(t3 + o, (f64x2.extract_lane(s3, 1) - m * a3) / dn, 8);
    }
  }
  for (; c < n; c++) substituteColumn(p, n, t, c, n);
}

// Round-to-nearest quantization of `src/lib/compress/reference/quantizer.ts` (`quantizeRtn`):
// each (row, group) fitted exactly as `fitGroup` does, then every entry quantized four at a time
// with the same fp32 operations (`nearest` rounds half to even, as `roundHalfEven`).
// mode: 0 GPTQ asymmetric, 1 GPTQ symmetric, 2 AWQ with zero point, 3 AWQ without.

const AWQ_MIN_RANGE: f32 = <f32>1e-5;

/** Fits one group; returns its scale and stores its zero point (clamp domain) at `zeroAt`. */
function fit(x: usize, len: i32, mode: i32, maxq: f32, hi: f32, zeroAt: usize): f32 {
  let j = 0;
  if (mode == 3) {
    let m4 = f32x4.splat(0);
    for (; j + 3 < len; j += 4) m4 = f32x4.max(m4, f32x4.abs(v128.load(x + (<usize>j << 2))));
    let m = max(max(f32x4.extract_lane(m4, 0), f32x4.extract_lane(m4, 1)), max(f32x4.extract_lane(m4, 2), f32x4.extract_lane(m4, 3)));
    for (; j < len; j++) m = max(m, abs(load<f32>(x + (<usize>j << 2))));
    store<f32>(zeroAt, 0);
    return max(m, AWQ_MIN_RANGE) / hi;
  }
  // Comparisons as the loops make them (pmin/pmax), from 0 (GPTQ) or ±∞ (AWQ).
  const awq = mode == 2;
  let lo4 = f32x4.splat(awq ? Infinity : 0);
  let hi4 = f32x4.splat(awq ? -Infinity : 0);
  for (; j + 3 < len; j += 4) {
    const v = v128.load(x + (<usize>j << 2));
    lo4 = f32x4.pmin(lo4, v);
    hi4 = f32x4.pmax(hi4, v);
  }
  let mn = f32x4.extract_lane(lo4, 0);
  let mx = f32x4.extract_lane(hi4, 0);
  for (let l = 1; l < 4; l++) {
    const a = l == 1 ? f32x4.extract_lane(lo4, 1) : l == 2 ? f32x4.extract_lane(lo4, 2) : f32x4.extract_lane(lo4, 3);
    const b = l == 1 ? f32x4.extract_lane(hi4, 1) : l == 2 ? f32x4.extract_lane(hi4, 2) : f32x4.extract_lane(hi4, 3);
    if (a < mn) mn = a;
    if (b > mx) mx = b;
  }
  for (; j < len; j++) {
    const v = load<f32>(x + (<usize>j << 2));
    if (v < mn) mn = v;
    if (v > mx) mx = v;
  }
  if (awq) {
    const scale = max(mx - mn, AWQ_MIN_RANGE) / maxq;
    // `+ 0` turns −0 into +0, as the TypeScript does.
    store<f32>(zeroAt, min(maxq, max(<f32>0, -nearest(mn / scale))) + 0);
    return scale;
  }
  if (mode == 1) {
    mx = max(-mn, mx);
    if (mn < 0) mn = -mx;
  }
  if (mn == 0 && mx == 0) {
    mn = -1;
    mx = 1;
  }
  const scale = (mx - mn) / maxq;
  store<f32>(zeroAt, mode == 1 ? (maxq + 1) / 2 : nearest(-mn / scale) + 0);
  return scale;
}

/**
 * W (rows × cols, fp32) quantized per (row, group of `groupSize` columns): the fake-quantized
 * weights into `out`, codes (c − lo) into `codes` (bytes), scales and zero points (clamp domain,
 * as fp32) per (row, group) into `scales` and `zeros`.
 */
export function quantizeRtn(
  w: usize,
  rows: i32,
  cols: i32,
  groupSize: i32,
  mode: i32,
  bits: i32,
  out: usize,
  codes: usize,
  scales: usize,
  zeros: usize,
): void {
  const maxq = <f32>((1 << bits) - 1);
  const lo: f32 = mode == 3 ? <f32>-(1 << (bits - 1)) : 0;
  const hi: f32 = mode == 3 ? <f32>((1 << (bits - 1)) - 1) : maxq;
  const groups = (cols + groupSize - 1) / groupSize;
  const lo4 = f32x4.splat(lo);
  const hi4 = f32x4.splat(hi);
  for (let r = 0; r < rows; r++) {
    for (let g = 0; g < groups; g++) {
      const start = r * cols + g * groupSize;
      const len = min(cols - g * groupSize, groupSize);
      const x = w + (<usize>start << 2);
      const gi = <usize>(r * groups + g) << 2;
      const scale = fit(x, len, mode, maxq, hi, zeros + gi);
      store<f32>(scales + gi, scale);
      const zero = load<f32>(zeros + gi);
      const s4 = f32x4.splat(scale);
      const z4 = f32x4.splat(zero);
      let j = 0;
      for (; j + 3 < len; j += 4) {
        const o = <usize>(start + j);
        const k = f32x4.add(f32x4.nearest(f32x4.div(v128.load(w + (o << 2)), s4)), z4);
        const c = f32x4.pmax(f32x4.pmin(k, hi4), lo4);
        v128.store(out + (o << 2), f32x4.mul(s4, f32x4.sub(c, z4)));
        const u = i32x4.trunc_sat_f32x4_s(f32x4.sub(c, lo4));
        store<u8>(codes + o, <u8>i32x4.extract_lane(u, 0));
        store<u8>(codes + o, <u8>i32x4.extract_lane(u, 1), 1);
        store<u8>(codes + o, <u8>i32x4.extract_lane(u, 2), 2);
        store<u8>(codes + o, <u8>i32x4.extract_lane(u, 3), 3);
      }
      for (; j < len; j++) {
        const o = <usize>(start + j);
        const k = nearest(load<f32>(w + (o << 2)) / scale) + zero;
        const c = k < lo ? lo : k > hi ? hi : k;
        store<f32>(out + (o << 2), scale * (c - zero));
        store<u8>(codes + o, <u8>(<i32>(c - lo)));
      }
    }
  }
}

/**
 * Every column j of W (rows × cols, in place) multiplied by s[j], or divided by it with
 * `divide` 1: AWQ's W·diag(s) and its Q(·)·diag(s)⁻¹. One fp32 operation per entry, so the
 * lanes give `Math.fround(w · s)` and `Math.fround(w / s)` exactly.
 */
export function scaleColumns(w: usize, rows: i32, cols: i32, s: usize, divide: i32): void {
  for (let r = 0; r < rows; r++) {
    const row = w + (<usize>(r * cols) << 2);
    let j = 0;
    if (divide) {
      for (; j + 3 < cols; j += 4) v128.store(at(row, j), f32x4.div(v128.load(at(row, j)), v128.load(at(s, j))));
      for (; j < cols; j++) store<f32>(at(row, j), load<f32>(at(row, j)) / load<f32>(at(s, j)));
    } else {
      for (; j + 3 < cols; j += 4) v128.store(at(row, j), f32x4.mul(v128.load(at(row, j)), v128.load(at(s, j))));
      for (; j < cols; j++) store<f32>(at(row, j), load<f32>(at(row, j)) * load<f32>(at(s, j)));
    }
  }
}

/**
 * Row-major `src` (rows × len) into the `w4` layout of `linear` and `linear32` at `dst`: four
 * rows at a time, entry by entry, the last group padded with zero rows.
 */
export function interleave4(src: usize, rows: i32, len: i32, dst: usize): void {
  const groups = (rows + 3) >> 2;
  for (let g = 0; g < groups; g++) {
    const out = dst + (<usize>(g * len) << 4);
    const r0 = g << 2;
    if (r0 + 3 < rows) {
      const a = at(src, r0 * len);
      const b = at(src, (r0 + 1) * len);
      const c = at(src, (r0 + 2) * len);
      const d = at(src, (r0 + 3) * len);
      let j = 0;
      for (; j + 3 < len; j += 4) {
        // A 4 × 4 transpose: rows a..d's entries j..j+3 become four vectors of one entry each.
        const va = v128.load(at(a, j));
        const vb = v128.load(at(b, j));
        const vc = v128.load(at(c, j));
        const vd = v128.load(at(d, j));
        const ab0 = i32x4.shuffle(va, vb, 0, 4, 1, 5);
        const cd0 = i32x4.shuffle(vc, vd, 0, 4, 1, 5);
        const ab1 = i32x4.shuffle(va, vb, 2, 6, 3, 7);
        const cd1 = i32x4.shuffle(vc, vd, 2, 6, 3, 7);
        const o = out + (<usize>j << 4);
        v128.store(o, i64x2.shuffle(ab0, cd0, 0, 2));
        v128.store(o, i64x2.shuffle(ab0, cd0, 1, 3), 16);
        v128.store(o, i64x2.shuffle(ab1, cd1, 0, 2), 32);
        v128.store(o, i64x2.shuffle(ab1, cd1, 1, 3), 48);
      }
      for (; j < len; j++) {
        const o = out + (<usize>j << 4);
        store<f32>(o, load<f32>(at(a, j)));
        store<f32>(o, load<f32>(at(b, j)), 4);
        store<f32>(o, load<f32>(at(c, j)), 8);
        store<f32>(o, load<f32>(at(d, j)), 12);
      }
    } else {
      for (let j = 0; j < len; j++) {
        const o = out + (<usize>j << 4);
        for (let l = 0; l < 4; l++) store<f32>(o + (<usize>l << 2), r0 + l < rows ? load<f32>(at(src, (r0 + l) * len + j)) : 0);
      }
    }
  }
}

/**
 * AWQ's clip candidates: row i of `w` (rows × len) clamped to ±maxima[i·steps + k] for every
 * step k, into `out` at row i·steps + k. `f32x4.min`/`max` order −0 below +0 and pass NaN on, as
 * `Math.min`/`Math.max` do.
 */
export function clampRows(w: usize, rows: i32, len: i32, steps: i32, maxima: usize, out: usize): void {
  for (let i = 0; i < rows; i++) {
    const src = at(w, i * len);
    for (let k = 0; k < steps; k++) {
      const m = load<f32>(at(maxima, i * steps + k));
      const hi = f32x4.splat(m);
      const lo = f32x4.splat(-m);
      const dst = at(out, (i * steps + k) * len);
      let j = 0;
      for (; j + 3 < len; j += 4) v128.store(at(dst, j), f32x4.min(hi, f32x4.max(lo, v128.load(at(src, j)))));
      for (; j < len; j++) store<f32>(at(dst, j), min(m, max(-m, load<f32>(at(src, j)))));
    }
  }
}

/**
 * The clip search's errors from its products `dots` (T × C, C = rows·(1 + steps): each row's
 * unclipped output first, then row i's step k at rows + i·steps + k): errs[i·steps + k] = Σ_t
 * f32(d·d), d = dots[t][rows + i·steps + k] − dots[t][i], summed in fp32, t ascending.
 */
export function clipErrors(dots: usize, T: i32, rows: i32, steps: i32, errs: usize): void {
  const C = rows * (1 + steps);
  const n = rows * steps;
  memory.fill(errs, 0, <usize>n << 2);
  for (let t = 0; t < T; t++) {
    const row = at(dots, t * C);
    for (let i = 0; i < rows; i++) {
      const ref = load<f32>(at(row, i));
      const ref4 = f32x4.splat(ref);
      const cand = at(row, rows + i * steps);
      const e = at(errs, i * steps);
      let k = 0;
      for (; k + 3 < steps; k += 4) {
        const d = f32x4.sub(v128.load(at(cand, k)), ref4);
        v128.store(at(e, k), f32x4.add(v128.load(at(e, k)), f32x4.mul(d, d)));
      }
      for (; k < steps; k++) {
        const d = load<f32>(at(cand, k)) - ref;
        store<f32>(at(e, k), load<f32>(at(e, k)) + d * d);
      }
    }
  }
}

/**
 * AWQ's search candidate in one call: W·diag(s) into `out`, quantized there (codes, scales and
 * zero points as `quantizeRtn` writes them), then out·diag(s)⁻¹: the three steps `scaleColumns`,
 * `quantizeRtn` and `scaleColumns` make, row by row independent (helper threads take row ranges).
 * W is left as it was, so a search's candidates share one copy of it.
 */
export function scaledQuantize(
  w: usize,
  rows: i32,
  cols: i32,
  s: usize,
  groupSize: i32,
  mode: i32,
  bits: i32,
  out: usize,
  codes: usize,
  scales: usize,
  zeros: usize,
): void {
  for (let r = 0; r < rows; r++) {
    const src = w + (<usize>(r * cols) << 2);
    const dst = out + (<usize>(r * cols) << 2);
    let j = 0;
    for (; j + 3 < cols; j += 4) v128.store(at(dst, j), f32x4.mul(v128.load(at(src, j)), v128.load(at(s, j))));
    for (; j < cols; j++) store<f32>(at(dst, j), load<f32>(at(src, j)) * load<f32>(at(s, j)));
  }
  // In place: each group is read whole for its fit, then each entry before it is written.
  quantizeRtn(out, rows, cols, groupSize, mode, bits, out, codes, scales, zeros);
  scaleColumns(out, rows, cols, s, 1);
}

/**
 * Σ over samples of Σ_i f32(y[i] − t[i])² with each sample's `perSample` entries summed in fp64
 * from 0 and the samples' sums added in order: the search loss `squaredErrorF32` sample by sample.
 */
export function squaredErrorSums(y: usize, t: usize, n: i32, perSample: i32): f64 {
  let total: f64 = 0;
  for (let s0 = 0; s0 < n; s0 += perSample) {
    const end = min(n, s0 + perSample);
    let e: f64 = 0;
    for (let i = s0; i < end; i++) {
      const d: f64 = <f64>(load<f32>(at(y, i)) - load<f32>(at(t, i)));
      e += d * d;
    }
    total += e;
  }
  return total;
}
