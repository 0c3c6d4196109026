"""AWQ on one linear (llm-awq `auto_scale`, `auto_clip`, `pseudo_quantize_tensor`).

Scope: llm-awq searches the scales of q/k/v and of gate/up jointly, scoring each candidate on
the attention or MLP output; that needs the whole decoder block. This reference scores every
linear on its own output instead, the form llm-awq uses for v_proj → o_proj and up_proj →
down_proj, and the benchmark runs our engine's AWQ pieces (scale search, folding, clip search,
quantizer) in the same per-linear form, so the two sides do the same work. Clip search is
skipped for q_proj and k_proj, as llm-awq and our engine do.
"""

from quant import fit, quantize, rtn

AWQ_MIN_SCALE = 1e-4


def abs_mean(B, X):
    return B.abs(X).sum(0) / B.scalar(X.shape[0])


def scales_for_ratio(B, x_mean, ratio):
    # x^ratio in float64, rounded once to float32: float32 pow is not correctly rounded, and an
    # ulp in s moves weights across rounding boundaries in the discrete clip choice.
    s = B.maximum(B.to_f32(B.power(B.to_f64(x_mean), ratio)), AWQ_MIN_SCALE)
    norm = B.sqrt(B.amax(s, 0) * B.amin(s, 0))
    return s / norm


def search_scales(B, W, X, x_mean, bits, group_size, sym, grid=20):
    """The 20-point grid; loss = mean squared error of X·W'ᵀ against X·Wᵀ; first strict minimum."""
    Y = X @ W.T
    total = Y.shape[0] * Y.shape[1]
    best, best_ratio, best_s = float("inf"), -1.0, None
    for k in range(grid):
        ratio = k / grid
        s = scales_for_ratio(B, x_mean, ratio)
        Wq = rtn(B, W * s[None, :], bits, group_size, sym, "awq") / s[None, :]
        d = X @ Wq.T - Y
        loss = B.sum64(d * d) / total
        if loss < best:
            best, best_ratio, best_s = loss, ratio, s
    if best_s is None:
        return B.full((W.shape[1],), 1.0), -1.0
    return best_s, best_ratio


def clip_search(B, W, X, bits, group_size, sym, grid=20, max_shrink=0.5, sample_tokens=512, row_batch=256):
    """Per (row, group) the max |w| among m0·(1 − k/20), k < 10, that minimises the output error."""
    rows, cols = W.shape
    gs = group_size if 0 < group_size < cols else cols
    stride = max(1, X.shape[0] // sample_tokens)
    Xs = X[::stride]
    steps = int(max_shrink * grid)
    groups = -(-cols // gs)
    best = B.zeros((rows, groups))
    for g in range(groups):
        j0, j1 = g * gs, min(cols, (g + 1) * gs)
        Xg = Xs[:, j0:j1]
        for r0 in range(0, rows, row_batch):
            w = W[r0 : r0 + row_batch, j0:j1]
            m0 = B.amax(B.abs(w), 1)
            org = Xg @ w.T
            errs = []
            maxes = []
            for k in range(steps):
                m = m0 * B.scalar(1 - k / grid)
                cur = B.minimum(B.maximum(w, -m[:, None]), m[:, None])
                s, z = fit(B, cur, bits, sym, "awq")
                q = quantize(B, cur, s[:, None], z[:, None], bits, sym, "awq")
                d = Xg @ q.T - org
                errs.append((d * d).sum(0) / B.scalar(Xg.shape[0]))
                maxes.append(m)
            errs = _stack(B, errs)
            maxes = _stack(B, maxes)
            k = B.argmin(errs, 0)
            best[r0 : r0 + row_batch, g] = _gather0(B, maxes, k)
    return best


def apply_clip(B, W, max_val, group_size):
    rows, cols = W.shape
    gs = group_size if 0 < group_size < cols else cols
    out = B.clone(W)
    for g in range(max_val.shape[1]):
        m = max_val[:, g : g + 1]
        out[:, g * gs : (g + 1) * gs] = B.minimum(B.maximum(W[:, g * gs : (g + 1) * gs], -m), m)
    return out


def awq_linear(B, W, X, x_mean, bits, group_size, sym, clip):
    """The effective weight Q(W·diag s)·diag s⁻¹ after scale search and (optionally) clipping."""
    s, ratio = search_scales(B, W, X, x_mean, bits, group_size, sym)
    Ws = W * s[None, :]
    if clip:
        Ws = apply_clip(B, Ws, clip_search(B, Ws, X / s[None, :], bits, group_size, sym), group_size)
    return rtn(B, Ws, bits, group_size, sym, "awq") / s[None, :], {"ratio": ratio}


def _stack(B, xs):
    return B.torch.stack(xs) if B.name == "torch" else B.np.stack(xs)


def _gather0(B, a, idx):
    """a[idx[j], j] for every column j."""
    if B.name == "torch":
        return a.gather(0, idx[None, :])[0]
    return a[idx, B.np.arange(a.shape[1])]
