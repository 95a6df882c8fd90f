"""Numba CSR kernels for sparse inference on CPU (sparse spec §1.9: "torch CSR or other compressed format").

``torch.sparse_csr`` matmuls carry per-call overhead that makes them slower than dense at batch 1. These
kernels store the weight as CSR (``indptr``, ``indices``, ``data``, float32) and compute

- batch 1: ``y_i = b_i + Σ_{j∈row i} W_ij x_j`` (serial SpMV: the whole layer is a few µs);
- batch B > 1: ``Yᵀ = W·Xᵀ + b`` row-parallel (``prange`` over output rows), each nonzero an axpy over the
  contiguous batch dimension of ``Xᵀ`` so the inner loop vectorises.

:class:`NumbaCSRLinear` wraps them as an inference-only module; the export picks it per layer only when
its micro-benchmark beats both dense and ``torch.sparse_csr`` (``deeprl.sparse.export``).
"""

from __future__ import annotations

import numba
import numpy as np
import torch
from numba import njit, prange
from torch import nn


@njit(cache=True, fastmath=False)
def csr_spmv(indptr, indices, data, x, bias, y):  # pragma: no cover - compiled
    """``y = W x + b`` for one sample (CSR ``W``)."""
    for i in range(indptr.shape[0] - 1):
        s = bias[i]
        for j in range(indptr[i], indptr[i + 1]):
            s += data[j] * x[indices[j]]
        y[i] = s


@njit(cache=True, parallel=True, fastmath=False)
def csr_spmm_t(indptr, indices, data, xt, bias, yt):  # pragma: no cover - compiled
    """``Yᵀ = W Xᵀ + b`` with ``Xᵀ`` of shape (in, B) and ``Yᵀ`` (out, B), both C-contiguous."""
    n_out = indptr.shape[0] - 1
    nb = xt.shape[1]
    for i in prange(n_out):
        row = yt[i]
        b = bias[i]
        for k in range(nb):
            row[k] = b
        for j in range(indptr[i], indptr[i + 1]):
            v = data[j]
            xr = xt[indices[j]]
            for k in range(nb):
                row[k] += v * xr[k]


class NumbaCSRLinear(nn.Module):
    """Inference-only Linear on CPU float32 with a CSR weight and the Numba kernels above."""

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor | None) -> None:
        super().__init__()
        w = weight.detach().to("cpu", torch.float32).numpy()
        self.out_features, self.in_features = int(w.shape[0]), int(w.shape[1])
        rows, cols = np.nonzero(w)
        counts = np.bincount(rows, minlength=self.out_features)
        self.indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        self.indices = cols.astype(np.int64)
        self.data = np.ascontiguousarray(w[rows, cols], dtype=np.float32)
        b = np.zeros(self.out_features, np.float32) if bias is None else bias.detach().to("cpu", torch.float32).numpy()
        self.bias_np = np.ascontiguousarray(b, dtype=np.float32)

    @classmethod
    def from_linear(cls, lin: nn.Linear) -> NumbaCSRLinear:
        """Convert a (masked) CPU ``nn.Linear``."""
        return cls(lin.weight, lin.bias)

    @property
    def nnz(self) -> int:
        """Stored nonzeros."""
        return int(self.data.shape[0])

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        if x.device.type != "cpu" or x.dtype != torch.float32:
            raise ValueError("NumbaCSRLinear runs on CPU float32 inputs only")
        lead = x.shape[:-1]
        x2 = x.detach().reshape(-1, self.in_features)
        n = x2.shape[0]
        if n == 1:
            y = np.empty(self.out_features, np.float32)
            csr_spmv(self.indptr, self.indices, self.data, x2[0].contiguous().numpy(), self.bias_np, y)
            return torch.from_numpy(y).reshape(*lead, self.out_features)
        numba.set_num_threads(max(1, min(torch.get_num_threads(), numba.config.NUMBA_NUM_THREADS)))
        xt = x2.t().contiguous().numpy()
        yt = np.empty((self.out_features, n), np.float32)
        csr_spmm_t(self.indptr, self.indices, self.data, xt, self.bias_np, yt)
        # a contiguous (B, out) result: a transposed view would make a following dense Linear ~6x slower
        return torch.from_numpy(yt).t().contiguous().reshape(*lead, self.out_features)

    def extra_repr(self) -> str:
        n = self.in_features * self.out_features
        return f"in_features={self.in_features}, out_features={self.out_features}, density={self.nnz / n:.4f}"
