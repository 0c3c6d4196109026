"""Independent numpy forward pass of Hugging Face decoder-only LMs (dev tool, not part of npm test).

A second, vectorised implementation of the same semantics as hf-decoder.ts (llama / mistral / qwen2,
qwen3, gemma3_text / gemma3), written separately so the two can check each other. float64 throughout.

    python3 hf_decoder_numpy.py config.json weights.npz 5,17,42,... out.npy

The .npz holds the tensors under their Hugging Face names (PyTorch layout). Writes logits [S, vocab].
"""

import json
import math
import sys

import numpy as np


def _rope_params(p, theta):
    p = p or {}
    kind = p.get("rope_type", p.get("type", "default"))
    if kind not in ("default", "linear", "llama3"):
        raise ValueError(f"unsupported RoPE type {kind!r}")
    return dict(p, rope_type=kind, rope_theta=theta)


def rope_for(cfg, layer_kind, gemma):
    default_theta = 1e6 if gemma else 1e4
    params = cfg.get("rope_parameters")
    if isinstance(params, dict):
        if "full_attention" in params or "sliding_attention" in params:
            p = params[layer_kind]
            return _rope_params(p, p.get("rope_theta", 1e4 if layer_kind == "sliding_attention" else default_theta))
        if gemma and layer_kind == "sliding_attention":
            return _rope_params(None, cfg.get("rope_local_base_freq") or 1e4)
        return _rope_params(params, params.get("rope_theta", cfg.get("rope_theta") or default_theta))
    if gemma and layer_kind == "sliding_attention":
        return _rope_params(None, cfg.get("rope_local_base_freq") or 1e4)
    return _rope_params(cfg.get("rope_scaling"), cfg.get("rope_theta") or default_theta)


def inv_freq(p, dim):
    inv = 1.0 / p["rope_theta"] ** (np.arange(0, dim, 2, dtype=np.float64) / dim)
    if p["rope_type"] == "linear":
        return inv / p["factor"]
    if p["rope_type"] == "llama3":
        factor, lo, hi = p["factor"], p["low_freq_factor"], p["high_freq_factor"]
        old = p["original_max_position_embeddings"]
        wavelen = 2 * math.pi / inv
        smooth = (old / wavelen - lo) / (hi - lo)
        mid = (1 - smooth) * inv / factor + smooth * inv
        return np.where(wavelen > old / lo, inv / factor, np.where(wavelen < old / hi, inv, mid))
    return inv


def rms_norm(x, w, eps, gemma):
    y = x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps)
    return y * (1.0 + w) if gemma else y * w


def rope(x, freqs):
    # x [S, heads, D]; freqs [D/2] → rotate (x_j, x_{j+D/2}) by pos·freq_j.
    pos = np.arange(x.shape[0], dtype=np.float64)[:, None] * freqs[None, :]
    cos = np.concatenate([np.cos(pos)] * 2, axis=-1)[:, None, :]
    sin = np.concatenate([np.sin(pos)] * 2, axis=-1)[:, None, :]
    half = x.shape[-1] // 2
    rotated = np.concatenate([-x[..., half:], x[..., :half]], axis=-1)
    return x * cos + rotated * sin


def forward(raw_cfg, w, ids):
    cfg = raw_cfg["text_config"] if raw_cfg.get("model_type") == "gemma3" else raw_cfg
    model_type = "gemma3_text" if raw_cfg.get("model_type") == "gemma3" else cfg["model_type"]
    gemma = model_type == "gemma3_text"

    def t(name):
        for cand in [name] + (
            ["model.language_model." + name[6:], "language_model.model." + name[6:]] if name.startswith("model.") else []
        ) + (["language_model.lm_head.weight"] if name == "lm_head.weight" else []):
            if cand in w:
                return np.asarray(w[cand], dtype=np.float64)
        raise KeyError(name)

    H = cfg["hidden_size"]
    nh = cfg["num_attention_heads"]
    nkv = cfg.get("num_key_value_heads") or nh
    D = cfg.get("head_dim") or (256 if gemma else 128 if model_type == "qwen3" else H // nh)
    L = cfg["num_hidden_layers"]
    eps = cfg.get("rms_norm_eps") or 1e-6
    S = len(ids)

    if gemma:
        kinds = cfg.get("layer_types") or [
            "full_attention" if (i + 1) % (cfg.get("sliding_window_pattern") or 6) == 0 else "sliding_attention" for i in range(L)
        ]
        window = cfg.get("sliding_window") or 4096
    elif model_type == "mistral" and cfg.get("sliding_window", 4096) is not None:
        kinds, window = ["sliding_attention"] * L, cfg.get("sliding_window", 4096)
    elif model_type in ("qwen2", "qwen3") and cfg.get("use_sliding_window"):
        window = cfg.get("sliding_window") or 4096
        kinds = cfg.get("layer_types") or [
            "sliding_attention" if i >= cfg["max_window_layers"] else "full_attention" for i in range(L)
        ]
    else:
        kinds, window = ["full_attention"] * L, None

    freqs = {k: inv_freq(rope_for(cfg, k, gemma), D) for k in ("full_attention", "sliding_attention")}
    bias_qkv = model_type == "qwen2" or bool(cfg.get("attention_bias"))
    bias_o = model_type != "qwen2" and bool(cfg.get("attention_bias"))
    scale = (cfg.get("query_pre_attn_scalar") or 256) ** -0.5 if gemma else D**-0.5
    attn_cap = cfg.get("attn_logit_softcapping") if gemma else None
    final_cap = cfg.get("final_logit_softcapping") if gemma else None
    act_name = (cfg.get("hidden_activation") or cfg.get("hidden_act") or "gelu_pytorch_tanh") if gemma else cfg.get("hidden_act", "silu")
    if act_name in ("gelu_pytorch_tanh", "gelu_tanh"):
        act = lambda x: 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))  # noqa: E731
    elif act_name in ("silu", "swish"):
        act = lambda x: x / (1 + np.exp(-x))  # noqa: E731
    else:
        raise ValueError(act_name)

    def lin(x, name, bias):
        y = x @ t(name + ".weight").T
        return y + t(name + ".bias") if bias else y

    emb = t("model.embed_tokens.weight")
    x = emb[np.asarray(ids)] * (math.sqrt(H) if gemma else 1.0)
    i_idx = np.arange(S)[:, None]
    j_idx = np.arange(S)[None, :]
    for layer in range(L):
        p = f"model.layers.{layer}."
        kind = kinds[layer]
        allowed = j_idx <= i_idx
        if kind == "sliding_attention":
            allowed &= (i_idx - j_idx) < window
        h = rms_norm(x, t(p + "input_layernorm.weight"), eps, gemma)
        q = lin(h, p + "self_attn.q_proj", bias_qkv).reshape(S, nh, D)
        k = lin(h, p + "self_attn.k_proj", bias_qkv).reshape(S, nkv, D)
        v = lin(h, p + "self_attn.v_proj", bias_qkv).reshape(S, nkv, D)
        if gemma or model_type == "qwen3":
            q = rms_norm(q, t(p + "self_attn.q_norm.weight"), eps, gemma)
            k = rms_norm(k, t(p + "self_attn.k_norm.weight"), eps, gemma)
        q, k = rope(q, freqs[kind]), rope(k, freqs[kind])
        rep = nh // nkv
        k = np.repeat(k, rep, axis=1)  # head h → kv head h // rep
        v = np.repeat(v, rep, axis=1)
        scores = np.einsum("ihd,jhd->hij", q, k) * scale
        if attn_cap is not None:
            scores = attn_cap * np.tanh(scores / attn_cap)
        scores = np.where(allowed[None], scores, -np.inf)
        scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
        probs = scores / scores.sum(axis=-1, keepdims=True)
        ctx = np.einsum("hij,jhd->ihd", probs, v).reshape(S, nh * D)
        a = lin(ctx, p + "self_attn.o_proj", bias_o)
        if gemma:
            a = rms_norm(a, t(p + "post_attention_layernorm.weight"), eps, True)
            x = x + a
            h = rms_norm(x, t(p + "pre_feedforward_layernorm.weight"), eps, True)
        else:
            x = x + a
            h = rms_norm(x, t(p + "post_attention_layernorm.weight"), eps, False)
        mlp_bias = bool(cfg.get("mlp_bias"))
        m = lin(act(lin(h, p + "mlp.gate_proj", mlp_bias)) * lin(h, p + "mlp.up_proj", mlp_bias), p + "mlp.down_proj", mlp_bias)
        if gemma:
            m = rms_norm(m, t(p + "post_feedforward_layernorm.weight"), eps, True)
        x = x + m

    x = rms_norm(x, t("model.norm.weight"), eps, gemma)
    tied = cfg.get("tie_word_embeddings", raw_cfg.get("tie_word_embeddings", gemma))
    logits = x @ (emb if tied else t("lm_head.weight")).T
    if final_cap is not None:
        logits = final_cap * np.tanh(logits / final_cap)
    return logits


def main(argv):
    cfg_path, npz_path, ids_arg, out_path = argv[1:5]
    with open(cfg_path) as f:
        cfg = json.load(f)
    weights = dict(np.load(npz_path))
    ids = [int(s) for s in ids_arg.split(",")]
    np.save(out_path, forward(cfg, weights, ids))


if __name__ == "__main__":
    main(sys.argv)
