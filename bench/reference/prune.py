"""N:M mask selection, magnitude and Wanda. Masks hold 1 for a pruned entry.

Tie rule (as our TypeScript reference): among equal scores the lower column index is kept,
i.e. the higher index is pruned first. The mask is a rank count per group, so it does not
depend on a sort's tie behaviour.
"""


def prune_count(length, n, m):
    return n if length == m else (n * length) // m


def select_lowest(B, scores, n_prune):
    """scores [rows, groups, len] → mask of the n_prune lowest per (row, group)."""
    a = scores[..., :, None]  # entry j
    b = scores[..., None, :]  # entry k
    length = scores.shape[-1]
    higher = _index_grid(B, length)
    # k goes before j when it scores lower, or the same with a higher index.
    before = (b < a) | ((b == a) & higher)
    rank = before.sum(-1)
    return rank < n_prune


def _index_grid(B, length):
    if B.name == "torch":
        t = B.torch.arange(length, device=B.device)
        return t[None, :] > t[:, None]
    np = B.np
    t = np.arange(length)
    return t[None, :] > t[:, None]


def nm_mask(B, scores, n, m):
    rows, cols = scores.shape
    full = (cols // m) * m
    mask = B.zeros((rows, cols), "u1")
    if full:
        sel = select_lowest(B, scores[:, :full].reshape(rows, full // m, m), n)
        mask[:, :full] = B.to_u8(sel.reshape(rows, full))
    if full < cols:
        tail = scores[:, full:]
        sel = select_lowest(B, tail.reshape(rows, 1, cols - full), prune_count(cols - full, n, m))
        mask[:, full:] = B.to_u8(sel.reshape(rows, cols - full))
    return mask


def apply_mask(B, W, mask):
    return B.where(mask == 1, 0.0, W)


def magnitude(B, W, n, m):
    mask = nm_mask(B, B.abs(W), n, m)
    return apply_mask(B, W, mask), mask


def wanda_norms(B, X, samples):
    """s_j = (1/N) Σ_samples Σ_tokens x_j² (a mean over sequences, not tokens)."""
    return (X * X).sum(0) / B.scalar(samples)


def wanda(B, W, s, n, m):
    # |W|·sqrt(s) ranked through its square W²·s: the same order without a square root.
    mask = nm_mask(B, (W * W) * s[None, :], n, m)
    return apply_mask(B, W, mask), mask
