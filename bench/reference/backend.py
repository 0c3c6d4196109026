"""Array backend of the reference: PyTorch when it imports (cuda when available), else numpy.

The algorithms in this folder are written once against the few operations below, so the
torch and numpy runs execute the same steps. Everything is float32 except the Hessian
factorisation, which runs in float64 and is rounded to float32 afterwards, as our
TypeScript reference does (it keeps the nearly singular Hessians of small calibration sets
factorable; the column loops still see float32 values).
"""

import time


class NumpyBackend:
    name = "numpy"

    def __init__(self):
        import numpy as np

        self.np = np
        self.f32 = np.float32
        self.device = "cpu"

    def describe(self):
        np = self.np
        blas = blas_description()
        return {"backend": "numpy", "version": np.__version__, "device": "cpu", "blas": blas}

    def from_bytes(self, buf, shape, dtype):
        np = self.np
        dt = {"f4": np.float32, "u1": np.uint8}[dtype]
        return np.frombuffer(buf, dtype=dt).reshape(shape).copy()

    def to_bytes(self, a):
        return self.np.ascontiguousarray(a).tobytes()

    def zeros(self, shape, dtype="f4"):
        return self.np.zeros(shape, dtype=self.np.float32 if dtype == "f4" else self.np.uint8)

    def full(self, shape, value):
        return self.np.full(shape, value, dtype=self.np.float32)

    def scalar(self, v):
        return self.np.float32(v)

    def clone(self, a):
        return a.copy()

    def amin(self, a, axis):
        return a.min(axis=axis)

    def amax(self, a, axis):
        return a.max(axis=axis)

    def argmin(self, a, axis):
        return a.argmin(axis=axis)

    def maximum(self, a, b):
        return self.np.maximum(a, b)

    def minimum(self, a, b):
        return self.np.minimum(a, b)

    def where(self, c, a, b):
        return self.np.where(c, a, b).astype(self.np.float32)

    def round(self, a):
        # numpy rounds half to even, like torch.round and WGSL round.
        return self.np.round(a)

    def abs(self, a):
        return self.np.abs(a)

    def sqrt(self, a):
        return self.np.sqrt(a)

    def power(self, a, p):
        return self.np.power(a, p)

    def take_cols(self, a, idx):
        return a[:, idx]

    def argsort_stable(self, a):
        return self.np.argsort(a, kind="stable")

    def inverse_perm(self, perm):
        inv = self.np.empty_like(perm)
        inv[perm] = self.np.arange(len(perm))
        return inv

    def to_f64(self, a):
        return a.astype(self.np.float64)

    def to_f32(self, a):
        return a.astype(self.np.float32)

    def to_u8(self, a):
        return a.astype(self.np.uint8)

    def sum64(self, a):
        return float(a.astype(self.np.float64).sum())

    def upper_chol_of_inverse(self, h64):
        """U upper triangular with H⁻¹ = UᵀU, or None when H is not positive definite."""
        np = self.np
        try:
            L = np.linalg.cholesky(h64)
            Linv = np.linalg.inv(L)
            hinv = Linv.T @ Linv
            L2 = np.linalg.cholesky(hinv)
        except np.linalg.LinAlgError:
            return None
        U = L2.T
        return U if np.isfinite(U).all() else None

    def sync(self):
        pass

    def clock(self):
        return time.perf_counter()


class TorchBackend:
    name = "torch"

    def __init__(self, device=None):
        import torch

        self.torch = torch
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        # TF32 would round matmul inputs to 10 mantissa bits; the reference is fp32.
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        torch.set_float32_matmul_precision("highest")

    def describe(self):
        torch = self.torch
        d = {"backend": "torch", "version": torch.__version__, "device": self.device}
        if self.device.startswith("cuda"):
            d["gpu"] = torch.cuda.get_device_name(self.device)
        else:
            d["threads"] = torch.get_num_threads()
            try:
                d["blas"] = torch.__config__.show().split("BLAS_INFO=")[1].split(",")[0]
            except Exception:
                pass
        return d

    def from_bytes(self, buf, shape, dtype):
        torch = self.torch
        dt = {"f4": torch.float32, "u1": torch.uint8}[dtype]
        t = torch.frombuffer(bytearray(buf), dtype=dt).reshape(shape)
        return t.to(self.device)

    def to_bytes(self, a):
        return a.detach().contiguous().cpu().numpy().tobytes() if _has_numpy() else bytes(a.detach().contiguous().cpu().untyped_storage())

    def zeros(self, shape, dtype="f4"):
        torch = self.torch
        return torch.zeros(shape, dtype=torch.float32 if dtype == "f4" else torch.uint8, device=self.device)

    def full(self, shape, value):
        return self.torch.full(shape, float(value), dtype=self.torch.float32, device=self.device)

    def scalar(self, v):
        return self.torch.tensor(float(v), dtype=self.torch.float32, device=self.device)

    def clone(self, a):
        return a.clone()

    def amin(self, a, axis):
        return a.amin(dim=axis)

    def amax(self, a, axis):
        return a.amax(dim=axis)

    def argmin(self, a, axis):
        return a.argmin(dim=axis)

    def maximum(self, a, b):
        torch = self.torch
        return torch.maximum(a, b if torch.is_tensor(b) else self.scalar(b))

    def minimum(self, a, b):
        torch = self.torch
        return torch.minimum(a, b if torch.is_tensor(b) else self.scalar(b))

    def where(self, c, a, b):
        torch = self.torch
        a = a if torch.is_tensor(a) else self.scalar(a)
        b = b if torch.is_tensor(b) else self.scalar(b)
        return torch.where(c, a, b)

    def round(self, a):
        return self.torch.round(a)

    def abs(self, a):
        return self.torch.abs(a)

    def sqrt(self, a):
        return self.torch.sqrt(a)

    def power(self, a, p):
        return self.torch.pow(a, float(p))

    def take_cols(self, a, idx):
        return a[:, idx]

    def argsort_stable(self, a):
        return self.torch.argsort(a, stable=True)

    def inverse_perm(self, perm):
        inv = self.torch.empty_like(perm)
        inv[perm] = self.torch.arange(len(perm), device=perm.device)
        return inv

    def to_f64(self, a):
        return a.double()

    def to_f32(self, a):
        return a.float()

    def to_u8(self, a):
        return a.to(self.torch.uint8)

    def sum64(self, a):
        return float(a.double().sum())

    def upper_chol_of_inverse(self, h64):
        torch = self.torch
        L, info = torch.linalg.cholesky_ex(h64)
        if int(info) != 0:
            return None
        hinv = torch.cholesky_inverse(L)
        L2, info = torch.linalg.cholesky_ex(hinv)
        if int(info) != 0:
            return None
        U = L2.T
        return U if bool(torch.isfinite(U).all()) else None

    def sync(self):
        if self.device.startswith("cuda"):
            self.torch.cuda.synchronize()

    def clock(self):
        self.sync()
        return time.perf_counter()


def _has_numpy():
    try:
        import numpy  # noqa: F401

        return True
    except ImportError:
        return False


def blas_description():
    """Which BLAS numpy calls, and which kernel it picked for this CPU (threadpoolctl when present)."""
    try:
        from threadpoolctl import threadpool_info

        libs = [
            f"{i.get('internal_api')} {i.get('version')} ({i.get('architecture')}, {i.get('num_threads')} threads)"
            for i in threadpool_info()
            if i.get("user_api") == "blas"
        ]
        if libs:
            return "; ".join(libs)
    except ImportError:
        pass
    core = openblas_core()
    if core:
        return core
    try:
        import numpy as np

        cfg = np.show_config(mode="dicts")
        blas = cfg.get("Build Dependencies", {}).get("blas", {})
        simd = cfg.get("SIMD Extensions", {})
        found = ",".join(simd.get("found", [])[-3:]) if isinstance(simd, dict) else ""
        name = f"{blas.get('name', '?')} {blas.get('version', '')}".strip()
        return f"{name} (numpy.show_config; SIMD {found})"
    except Exception as e:  # pragma: no cover - depends on the numpy build
        return f"unknown ({e})"


def openblas_core():
    """The OpenBLAS bundled with a numpy wheel, asked through ctypes which kernel it chose."""
    try:
        import ctypes
        import glob
        import os

        import numpy as np

        libs = glob.glob(os.path.join(os.path.dirname(os.path.dirname(np.__file__)), "numpy.libs", "*openblas*"))
        for path in libs:
            lib = ctypes.CDLL(path)
            for prefix, suffix in (("scipy_openblas_", "64_"), ("scipy_openblas_", ""), ("openblas_", "64_"), ("openblas_", "")):
                try:
                    core = getattr(lib, f"{prefix}get_corename{suffix}")
                    config = getattr(lib, f"{prefix}get_config{suffix}")
                except AttributeError:
                    continue
                core.restype = config.restype = ctypes.c_char_p
                return f"{config().decode().strip()}; kernel {core().decode()}"
    except Exception:
        return None
    return None


def make_backend(kind="auto", device=None):
    if kind in ("auto", "torch"):
        try:
            return TorchBackend(device)
        except ImportError:
            if kind == "torch":
                raise
    return NumpyBackend()
