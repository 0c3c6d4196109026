"""GPTQ and SparseGPT (IST-DASLab `fasterquant` / `fasterprune`): the shared prologue and the
blocked column loop with lazy updates.

As in our TypeScript reference, the error of a column is (w − q)·(1/d) with 1/d rounded to
float32 once (the reference divides by d; a multiply lets the GPU kernel agree bit for bit),
and GPTQ's group quantizer is fitted, for every group starting in a block, on the lazily
updated W at the block's start, which is what `find_params(W[:, g:g+group])` sees.
"""

from quant import fit, group_size_of, quantize
from prune import prune_count, select_lowest


def hessian(B, X, samples):
    """H = (2/N) Σ_s X_sᵀ X_s over N sequences."""
    return (X.T @ X) * B.scalar(2.0 / samples)


class NotPositiveDefinite(Exception):
    pass


def prologue(B, W, H, percdamp, act_order, damp_step=0.01, max_retries=100):
    rows, cols = W.shape
    W = B.clone(W)
    H = B.clone(H)
    d = [i for i in range(cols)]
    diag = H[d, d]
    dead = diag == 0
    H[dead, dead] = 1.0
    W[:, dead] = 0.0
    perm = None
    if act_order:
        # Descending diag(H), ties in index order.
        perm = B.argsort_stable(-H[d, d])
        H = H[perm][:, perm]
        W = W[:, perm]
    mean = B.sum64(H[d, d]) / cols
    mean32 = float(B.scalar(mean))
    for retries in range(max_retries + 1):
        pd = round((percdamp + retries * damp_step) * 1e12) / 1e12
        damp = B.scalar(pd * mean32)
        h = B.clone(H)
        h[d, d] = h[d, d] + damp
        U = B.upper_chol_of_inverse(B.to_f64(h))
        if U is not None:
            U = B.to_f32(U)
            invd = B.scalar(1.0) / U[d, d]
            invd2 = B.scalar(1.0) / (U[d, d] * U[d, d])
            return W, U, invd, invd2, perm, {"percdamp": pd, "retries": retries, "deadColumns": int(dead.sum())}
    raise NotPositiveDefinite(f"Hessian not positive definite even with percdamp {pd}")


def gptq(B, W, H, bits, group_size, sym, act_order, percdamp, block_size):
    rows, cols = W.shape
    gs = group_size_of(cols, group_size)
    grouped = gs < cols
    if not grouped:
        # Without groups the quantizer is fitted once per row on W as given.
        scale_row, zero_row = fit(B, W, bits, sym, "gptq")
    W, U, invd, _, perm, report = prologue(B, W, H, percdamp, act_order)
    scales = {}
    for i1 in range(0, cols, block_size):
        i2 = min(i1 + block_size, cols)
        if grouped:
            g = -(-i1 // gs) * gs
            while g < i2:
                scales[g] = fit(B, W[:, g : g + gs], bits, sym, "gptq")
                g += gs
        W1 = B.clone(W[:, i1:i2])
        Err1 = B.zeros((rows, i2 - i1))
        for i in range(i2 - i1):
            col = i1 + i
            s, z = scales[(col // gs) * gs] if grouped else (scale_row, zero_row)
            w = W1[:, i]
            q = quantize(B, w, s, z, bits, sym, "gptq")
            err = (w - q) * invd[col]
            W1[:, i] = q
            W1[:, i + 1 :] -= err[:, None] * U[col, col + 1 : i2][None, :]
            Err1[:, i] = err
        W[:, i1:i2] = W1
        W[:, i2:] -= Err1 @ U[i1:i2, i2:]
    if perm is not None:
        W = W[:, B.inverse_perm(perm)]
    return W, report


def sparsegpt(B, W, H, n, m, percdamp, block_size):
    """N:M SparseGPT: the mask of each M columns is chosen on the in-block-updated W."""
    rows, cols = W.shape
    W, U, invd, invd2, _, report = prologue(B, W, H, percdamp, False)
    mask = B.zeros((rows, cols), "u1")
    for i1 in range(0, cols, block_size):
        i2 = min(i1 + block_size, cols)
        W1 = B.clone(W[:, i1:i2])
        Err1 = B.zeros((rows, i2 - i1))
        M1 = B.zeros((rows, i2 - i1), "u1")
        for i in range(i2 - i1):
            col = i1 + i
            if i % m == 0:
                length = min(m, i2 - col)
                tmp = (W1[:, i : i + length] * W1[:, i : i + length]) * invd2[col : col + length][None, :]
                sel = select_lowest(B, tmp.reshape(rows, 1, length), prune_count(length, n, m))
                M1[:, i : i + length] = B.to_u8(sel.reshape(rows, length))
            w = W1[:, i]
            q = B.where(M1[:, i] == 1, 0.0, w)
            err = (w - q) * invd[col]
            W1[:, i] = q
            W1[:, i + 1 :] -= err[:, None] * U[col, col + 1 : i2][None, :]
            Err1[:, i] = err
        W[:, i1:i2] = W1
        mask[:, i1:i2] = M1
        W[:, i2:] -= Err1 @ U[i1:i2, i2:]
    return W, mask, report
