"""The two quantizers (docs: compression spec), fitted per output row over one column slice.

`gptq`: the GPTQ/RTN quantizer, range forced through 0, symmetric or asymmetric.
`awq`: llm-awq's pseudo_quantize_tensor, range not forced through 0, scale floored at 1e-5,
zero point clamped; with `sym` (no zero point) the codes are signed.
"""


def grid(bits, sym, variant):
    maxq = 2**bits - 1
    if variant == "awq" and sym:
        return -(2 ** (bits - 1)), 2 ** (bits - 1) - 1, maxq
    return 0, maxq, maxq


def fit(B, w, bits, sym, variant):
    """(scale, zero) per row of w [rows, len], both float32 vectors."""
    lo, hi, maxq = grid(bits, sym, variant)
    if variant == "awq":
        if sym:
            m = B.amax(B.abs(w), 1)
            return B.maximum(m, 1e-5) / B.scalar(hi), B.zeros(m.shape)
        mx = B.amax(w, 1)
        mn = B.amin(w, 1)
        scale = B.maximum(mx - mn, 1e-5) / B.scalar(maxq)
        # `+ 0` turns the -0 of -round(0) into +0, as the TypeScript reference does.
        zero = B.minimum(B.maximum(-B.round(mn / scale), 0), maxq) + B.scalar(0)
        return scale, zero
    xmin = B.minimum(B.amin(w, 1), 0)
    xmax = B.maximum(B.amax(w, 1), 0)
    if sym:
        xmax = B.maximum(B.abs(xmin), xmax)
        xmin = B.where(xmin < 0, -xmax, xmin)
    both0 = (xmin == 0) & (xmax == 0)
    xmin = B.where(both0, -1.0, xmin)
    xmax = B.where(both0, 1.0, xmax)
    scale = (xmax - xmin) / B.scalar(maxq)
    zero = B.full(scale.shape, (maxq + 1) / 2) if sym else B.round(-xmin / scale) + B.scalar(0)
    return scale, zero


def quantize(B, w, scale, zero, bits, sym, variant):
    """scale · (clamp(round(w / scale) + zero, lo, hi) − zero); scale and zero broadcast over w's last axis."""
    lo, hi, _ = grid(bits, sym, variant)
    c = B.minimum(B.maximum(B.round(w / scale) + zero, lo), hi)
    return scale * (c - zero)


def group_size_of(cols, group_size):
    return group_size if 0 < group_size < cols else cols


def rtn(B, W, bits, group_size, sym, variant="gptq"):
    """Round to nearest per (row, group) of contiguous columns."""
    rows, cols = W.shape
    gs = group_size_of(cols, group_size)
    out = B.zeros((rows, cols))
    for j0 in range(0, cols, gs):
        g = W[:, j0 : j0 + gs]
        s, z = fit(B, g, bits, sym, variant)
        out[:, j0 : j0 + gs] = quantize(B, g, s[:, None], z[:, None], bits, sym, variant)
    return out
