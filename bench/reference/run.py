#!/usr/bin/env python3
"""Runs the reference compression methods on the linears a benchmark folder holds.

    python3 run.py DIR [--backend auto|torch|numpy] [--device cuda|cpu] [--no-warmup]

DIR/manifest.json (written by our engine's reference benchmark, src/node/reference-bench.ts):
  samples, seqLen             calibration sequences and their length
  methods                     e.g. ["rtn", "gptq", "awq", "magnitude", "wanda", "sparsegpt"]
  settings                    per method, the resolved settings our engine used
  taps[]     {name, file}     each linear input X (tokens × in, float32 .npy), shared by the
                              linears that read it (q/k/v, gate/up)
  linears[]  {name, linear, tap, file}   each weight W (out × in, float32 .npy)
Writes DIR/ref/<method>/<linear>.npy (the effective weight; for AWQ the quantized scaled weight
divided back by the scales), DIR/ref/<method>/<linear>.mask.npy for pruning methods (uint8,
1 = pruned) and DIR/ref/timings.json: seconds per method (statistics from X included, reading
and writing files excluded) and the backend. Prints one JSON line with the timings.
"""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import npyio  # noqa: E402
from awq import abs_mean, awq_linear  # noqa: E402
from backend import make_backend  # noqa: E402
from prune import magnitude, wanda, wanda_norms  # noqa: E402
from quant import rtn  # noqa: E402
from solver import gptq, hessian, sparsegpt  # noqa: E402

NO_CLIP = ("q_proj", "k_proj")


def load(B, path):
    buf, shape, dtype = npyio.read(path)
    return B.from_bytes(buf, shape, dtype)


def run_method(B, method, settings, taps, linears, samples):
    """Compresses every linear; returns {name: (weight, mask or None)} (still on the device)."""
    s = settings
    stats = {}

    def stat(tap, fn):
        if tap not in stats:
            stats[tap] = fn(taps[tap])
        return stats[tap]

    out = {}
    for lin in linears:
        W = lin["W"]
        tap = lin["tap"]
        if method == "rtn":
            out[lin["name"]] = (rtn(B, W, s["bits"], s["groupSize"], s["sym"], "gptq"), None)
        elif method == "gptq":
            H = stat(tap, lambda X: hessian(B, X, samples))
            Wq, _ = gptq(B, W, H, s["bits"], s["groupSize"], s["sym"], s["actOrder"], s["percdamp"], s["blockSize"])
            out[lin["name"]] = (Wq, None)
        elif method == "awq":
            x_mean = stat(tap, lambda X: abs_mean(B, X))
            Wq, _ = awq_linear(B, W, taps[tap], x_mean, s["bits"], s["groupSize"], s["sym"], lin["linear"] not in NO_CLIP)
            out[lin["name"]] = (Wq, None)
        elif method in ("magnitude", "wanda", "sparsegpt"):
            sp = s["sparsity"]
            if "n" not in sp:
                raise SystemExit(f"{method}: only N:M sparsity is implemented here, got {sp}")
            n, m = sp["n"], sp["m"]
            if method == "magnitude":
                out[lin["name"]] = magnitude(B, W, n, m)
            elif method == "wanda":
                out[lin["name"]] = wanda(B, W, stat(tap, lambda X: wanda_norms(B, X, samples)), n, m)
            else:
                H = stat(tap, lambda X: hessian(B, X, samples))
                Wp, mask, _ = sparsegpt(B, W, H, n, m, s["percdamp"], s["blockSize"])
                out[lin["name"]] = (Wp, mask)
        else:
            raise SystemExit(f"unknown method {method}")
    return out


def warm_up(B, method, settings):
    """One small linear per method, untimed: library initialisation and (on cuda) kernel loading."""
    import random

    rnd = random.Random(1)
    rows, cols, tokens = 32, 128, 64
    buf = bytearray()
    import struct

    for _ in range(rows * cols + tokens * cols):
        buf += struct.pack("<f", rnd.gauss(0, 1))
    W = B.from_bytes(bytes(buf[: rows * cols * 4]), (rows, cols), "f4")
    X = B.from_bytes(bytes(buf[rows * cols * 4 :]), (tokens, cols), "f4")
    run_method(B, method, settings, {"x": X}, [{"name": "w", "linear": "v_proj", "tap": "x", "W": W}], 1)
    B.sync()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dir")
    ap.add_argument("--backend", default="auto", choices=["auto", "torch", "numpy"])
    ap.add_argument("--device", default=None, help="torch device (default cuda when available, else cpu)")
    ap.add_argument("--no-warmup", action="store_true")
    ap.add_argument("--methods", default=None, help="comma-separated subset of the manifest's methods")
    args = ap.parse_args()

    with open(os.path.join(args.dir, "manifest.json")) as f:
        man = json.load(f)
    B = make_backend(args.backend, args.device)
    taps = {t["name"]: load(B, os.path.join(args.dir, t["file"])) for t in man["taps"]}
    linears = [dict(lin, W=load(B, os.path.join(args.dir, lin["file"]))) for lin in man["linears"]]
    methods = args.methods.split(",") if args.methods else man["methods"]
    result = {"backend": B.describe(), "methods": {}}
    out_root = os.path.join(args.dir, "ref")
    for method in methods:
        settings = man["settings"][method]
        if not args.no_warmup:
            warm_up(B, method, settings)
        t0 = B.clock()
        out = run_method(B, method, settings, taps, linears, man["samples"])
        seconds = B.clock() - t0
        result["methods"][method] = {"seconds": seconds}
        d = os.path.join(out_root, method)
        os.makedirs(d, exist_ok=True)
        for name, (W, mask) in out.items():
            npyio.write(os.path.join(d, f"{name}.npy"), B.to_bytes(B.to_f32(W)), tuple(W.shape), "f4")
            if mask is not None:
                npyio.write(os.path.join(d, f"{name}.mask.npy"), B.to_bytes(mask), tuple(mask.shape), "u1")
        print(f"reference {method}: {seconds:.3f} s", file=sys.stderr, flush=True)
    with open(os.path.join(out_root, "timings.json"), "w") as f:
        json.dump(result, f, indent=1)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
