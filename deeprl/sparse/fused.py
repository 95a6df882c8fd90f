"""Fused feature-major sparse MLP: the fast CPU export format of sparse spec §1.9.

:class:`FusedSparseMLP` replaces a chain ``Linear → act → Linear → act …`` (an ``nn.Sequential`` or a bare
``nn.Linear``) by one call of :func:`deeprl.sparse.kernels.mlp_forward`: every weight in CSR (zeros dropped),
activations kept feature-major ``(features, batch)`` between layers so each nonzero is one contiguous AXPY
over the batch, bias and activation fused into the row, one transpose in and one out for the whole chain.
Per layer it does ``nnz·B`` multiply-adds instead of ``n_in·n_out·B``, and a whole actor is one Python →
Numba call instead of one torch dispatch per op (what makes batch 1 fast).

Inputs holding NaN or ±inf (detected for free during the input transpose) go through the dense layers
instead, so NaN propagates exactly as in torch (the fused ReLU is ``fmax(y, 0)``, which would map NaN to 0).

Threads: rows of a layer are split over Numba's threads when the batch is at least ``parallel_min_batch``;
the thread count follows ``torch.get_num_threads()`` (capped by ``NUMBA_NUM_THREADS``) so that
``torch.set_num_threads`` governs both the dense and the sparse path. Inference only (no autograd): CPU
float32 tensors in and out; the output is a new contiguous tensor.
"""

from __future__ import annotations

import copy
import threading

import numba
import numpy as np
import torch
from torch import nn

from deeprl.sparse import kernels as K

_ACTIVATIONS: dict[type[nn.Module], int] = {
    nn.Identity: K.ACT_IDENTITY,
    nn.ReLU: K.ACT_RELU,
    nn.Tanh: K.ACT_TANH,
    nn.Sigmoid: K.ACT_SIGMOID,
    nn.LeakyReLU: K.ACT_LEAKY_RELU,
}


_numba_threads = threading.local()


def _launch_numba_pool() -> None:
    """Start Numba's OpenMP thread pool now, keeping torch's thread count: launching the pool sets the
    process-wide OpenMP thread count (which torch reads) to ``NUMBA_NUM_THREADS``, so a pool started lazily
    inside a forward would silently switch torch from e.g. 1 thread to all cores."""
    n = torch.get_num_threads()
    numba.get_num_threads()  # launches the pool
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)


_launch_numba_pool()


def _sync_numba_threads() -> int:
    """Set Numba's thread count (per calling thread) to ``min(torch.get_num_threads(), NUMBA_NUM_THREADS)``
    when that changed since the last call, and return it (``numba.get_num_threads`` alone costs ~1 µs)."""
    n = min(torch.get_num_threads(), numba.config.NUMBA_NUM_THREADS)
    if getattr(_numba_threads, "n", None) != n:
        numba.set_num_threads(n)
        _numba_threads.n = n
    return n


def set_num_threads(n: int) -> None:
    """Set torch's and Numba's thread counts together (Numba's capped by ``NUMBA_NUM_THREADS``)."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n!r}")
    _launch_numba_pool()
    torch.set_num_threads(n)
    _sync_numba_threads()


def fusable_layers(module: nn.Module) -> list[tuple[nn.Linear, nn.Module | None]] | None:
    """``[(linear, activation or None), …]`` if ``module`` is a bare ``nn.Linear`` or an ``nn.Sequential`` of
    Linears each followed by at most one supported activation (Identity, ReLU, Tanh, Sigmoid, LeakyReLU),
    with CPU float32 weights; else None."""
    mods = [module] if isinstance(module, nn.Linear) else list(module) if isinstance(module, nn.Sequential) else []
    chain: list[tuple[nn.Linear, nn.Module | None]] = []
    for m in mods:
        if isinstance(m, nn.Linear):
            if m.weight.device.type != "cpu" or m.weight.dtype != torch.float32:
                return None
            chain.append((m, None))
        elif type(m) in _ACTIVATIONS and chain and chain[-1][1] is None:
            chain[-1] = (chain[-1][0], m)
        else:
            return None
    return chain or None


def _act_code(act: nn.Module | None) -> tuple[int, float]:
    if act is None:
        return K.ACT_IDENTITY, 0.0
    alpha = float(act.negative_slope) if isinstance(act, nn.LeakyReLU) else 0.0
    return _ACTIVATIONS[type(act)], alpha


class FusedSparseMLP(nn.Module):
    """Inference-only MLP ``y = f_L(…f_1(x))``, ``f_l(h) = act_l(W_l h + b_l)`` with CSR ``W_l`` (Numba).

    Built from ``[(linear, activation or None), …]`` (see :func:`fusable_layers`); inputs ``(…, n_in)`` CPU
    float32, leading dimensions preserved.
    """

    def __init__(self, layers: list[tuple[nn.Linear, nn.Module | None]], parallel_min_batch: int = 16) -> None:
        super().__init__()
        if not layers:
            raise ValueError("layers must hold at least one (Linear, activation) pair")
        if parallel_min_batch < 1:
            raise ValueError(f"parallel_min_batch must be >= 1, got {parallel_min_batch!r}")
        packed = []
        fallback: list[nn.Module] = []
        for lin, act in layers:
            if not (torch.isfinite(lin.weight).all() and (lin.bias is None or torch.isfinite(lin.bias).all())):
                raise ValueError("layers must have finite weights and biases")
            fallback += [copy.deepcopy(lin).eval()] + ([copy.deepcopy(act)] if act is not None else [])
            code, alpha = _act_code(act)
            w = lin.weight.detach().to("cpu", torch.float32).numpy()
            b = None if lin.bias is None else lin.bias.detach().to("cpu", torch.float32).numpy()
            packed.append((w, b, code, alpha))
        arrays = K.pack_layers(packed)
        self._meta, self._alphas = arrays["meta"], arrays["alphas"]
        self._indptr, self._indices = arrays["indptr"], arrays["indices"]
        self._data, self._bias = arrays["data"], arrays["bias"]
        self.in_features = int(self._meta[0, K.META_IN])
        self.out_features = int(self._meta[-1, K.META_OUT])
        self.shapes = [(int(m[K.META_OUT]), int(m[K.META_IN])) for m in self._meta]
        self.activations = [type(a).__name__ if a is not None else "Identity" for _, a in layers]
        self.parallel_min_batch = int(parallel_min_batch)
        self._width = int(self._meta[:, [K.META_IN, K.META_OUT]].max())
        self._work: dict[int, np.ndarray] = {}  # per calling thread: scratch reused across calls
        # the dense layers, for inputs holding NaN/±inf only (kept out of the module tree and state_dict)
        object.__setattr__(self, "_dense_fallback", nn.Sequential(*fallback).requires_grad_(False))

    @classmethod
    def from_module(cls, module: nn.Module, parallel_min_batch: int = 16) -> FusedSparseMLP:
        """Fuse a bare ``nn.Linear`` or an ``nn.Sequential`` accepted by :func:`fusable_layers`."""
        layers = fusable_layers(module)
        if layers is None:
            raise ValueError("module must be an nn.Linear or an nn.Sequential of CPU float32 Linears, each "
                             "followed by at most one of Identity/ReLU/Tanh/Sigmoid/LeakyReLU")
        return cls(layers, parallel_min_batch)

    @property
    def nnz(self) -> int:
        """Stored nonzeros over all layers."""
        return int(self._data.shape[0])

    def layer_nnz(self) -> list[int]:
        """Stored nonzeros per layer."""
        ptr = self._indptr
        return [int(ptr[m[K.META_PTR] + m[K.META_OUT]]) for m in self._meta]

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        # lean on purpose: at batch 1 each torch attribute call costs a sizeable part of the layer's time
        if not x.is_cpu or x.dtype is not torch.float32:
            raise ValueError(f"{type(self).__name__} runs on CPU float32 inputs only, got {x.device} {x.dtype}")
        xn = (x.detach() if x.requires_grad else x).numpy()
        if xn.shape[-1] != self.in_features:
            raise ValueError(f"x must have {self.in_features} features in its last dimension, got {tuple(x.shape)}")
        if xn.ndim != 2 or not xn.flags.c_contiguous:
            xn = np.ascontiguousarray(xn.reshape(-1, self.in_features))
        nb = xn.shape[0]
        if nb == 0:
            return x.new_empty(*x.shape[:-1], self.out_features)
        parallel = nb >= self.parallel_min_batch and _sync_numba_threads() > 1
        y, finite = K.mlp_forward(xn, self._meta, self._alphas, self._indptr, self._indices, self._data, self._bias,
                                  parallel, self._workspace(nb))
        if not finite:  # NaN/inf input: the dense layers, so NaN propagates exactly as in torch
            with torch.no_grad():
                return self._dense_fallback(x)
        out = torch.from_numpy(y)
        return out if x.dim() == 2 else out.reshape(*x.shape[:-1], self.out_features)

    def _workspace(self, nb: int) -> np.ndarray:
        """This thread's scratch array for :func:`~deeprl.sparse.kernels.mlp_forward`, grown on demand."""
        tid = threading.get_ident()
        work = self._work.get(tid)
        need = 2 * (((self._width * nb + 15) // 16) * 16) + 64  # kernels.work_size
        if work is None or work.shape[0] < need:
            work = self._work[tid] = np.empty(need, np.float32)
        return work

    def extra_repr(self) -> str:
        dens = ", ".join(f"{o}x{i}:{n / (o * i):.3f}" for (o, i), n in zip(self.shapes, self.layer_nnz()))
        return f"layers=[{dens}], activations={self.activations}, parallel_min_batch={self.parallel_min_batch}"


class NumbaCSRLinear(FusedSparseMLP):
    """A single Linear ``y = W x + b`` in the fused format (one layer, no activation)."""

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor | None, parallel_min_batch: int = 16) -> None:
        lin = nn.Linear(weight.shape[1], weight.shape[0], bias=bias is not None)
        with torch.no_grad():
            lin.weight.copy_(weight.detach().to("cpu", torch.float32))
            if bias is not None:
                lin.bias.copy_(bias.detach().to("cpu", torch.float32))
        super().__init__([(lin, None)], parallel_min_batch)

    @classmethod
    def from_linear(cls, lin: nn.Linear) -> NumbaCSRLinear:
        """Convert a (masked) CPU ``nn.Linear``; its zero entries are dropped from storage."""
        return cls(lin.weight, lin.bias)
