"""Export to real sparse inference, and the inference micro-benchmark (sparse spec §1.9).

Masked training stores weights dense (eq. (1)): it saves no time. For deployment
:func:`export_sparse_inference` turns each ``nn.Linear`` whose weight is at least ``min_sparsity`` zeros into
a compressed layer, :class:`CSRLinear` (``y = (W_csr @ xᵀ)ᵀ + b`` with ``torch.sparse_csr``) or
:class:`~deeprl.sparse.kernels.NumbaCSRLinear` (our Numba CSR kernels), **only if** an export-time
micro-benchmark at the deployment batch size shows it faster than the dense layer (per layer, the fastest
wins); otherwise the layer stays dense. Every candidate is checked numerically:
``max|y_sparse − y_dense| ≤ 1e-5·(1 + |y|)``. The choices and timings are stored on the returned module as
``export_report``.

:func:`benchmark_inference` times a dense (masked) module against its exported copy for several batch
sizes and thread counts, interleaving the two so that a loaded machine slows both alike; speedups are quoted
only from this table, never from FLOPs.
"""

from __future__ import annotations

import copy
import statistics
import time
import warnings
from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import nn


def _to_csr(w: torch.Tensor) -> torch.Tensor:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta state")
        return w.to_sparse_csr()


class CSRLinear(nn.Module):
    """Inference-only Linear with a ``torch.sparse_csr`` weight: ``y = (W_csr @ xᵀ)ᵀ + b``."""

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor | None) -> None:
        super().__init__()
        w = weight.detach()
        self.in_features, self.out_features = int(w.shape[1]), int(w.shape[0])
        self.register_buffer("weight_csr", _to_csr(w))
        self.register_buffer("bias_col", None if bias is None else bias.detach().clone().reshape(-1, 1))

    @classmethod
    def from_linear(cls, lin: nn.Linear) -> CSRLinear:
        """Convert a (masked) ``nn.Linear``; its zero entries are dropped from storage."""
        return cls(lin.weight, lin.bias)

    @property
    def nnz(self) -> int:
        """Stored nonzeros."""
        return int(self.weight_csr.values().numel())

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        lead = x.shape[:-1]
        xt = x.reshape(-1, self.in_features).t()
        with torch.no_grad():
            if self.bias_col is None:
                yt = torch.sparse.mm(self.weight_csr, xt)
            else:
                yt = torch.addmm(self.bias_col, self.weight_csr, xt)
        return yt.t().reshape(*lead, self.out_features)

    def extra_repr(self) -> str:
        n = self.in_features * self.out_features
        return f"in_features={self.in_features}, out_features={self.out_features}, density={self.nnz / n:.4f}"


def _time_calls(fns: dict[str, Callable[[], Any]], reps: int, warmup: int, blocks: int = 5) -> dict[str, float]:
    """Median over ``blocks`` interleaved blocks of the mean µs per call, for each function."""
    with torch.inference_mode():
        for f in fns.values():
            for _ in range(warmup):
                f()
        per = {k: [] for k in fns}
        n = max(1, reps // blocks)
        for _ in range(blocks):
            for k, f in fns.items():
                t0 = time.perf_counter()
                for _ in range(n):
                    f()
                per[k].append((time.perf_counter() - t0) / n * 1e6)
    return {k: statistics.median(v) for k, v in per.items()}


def _sparsity(w: torch.Tensor) -> float:
    return float((w == 0).sum()) / w.numel()


def _set_submodule(root: nn.Module, name: str, new: nn.Module) -> None:
    parent_name, _, child = name.rpartition(".")
    parent = root.get_submodule(parent_name) if parent_name else root
    setattr(parent, child, new)


def _candidates(mod: nn.Linear, formats: Iterable[str]) -> dict[str, nn.Module]:
    out: dict[str, nn.Module] = {}
    for f in formats:
        if f == "csr":
            out[f] = CSRLinear.from_linear(mod).to(mod.weight.device)
        elif f == "numba":
            if mod.weight.device.type == "cpu" and mod.weight.dtype == torch.float32:
                from deeprl.sparse.kernels import NumbaCSRLinear

                out[f] = NumbaCSRLinear.from_linear(mod)
        else:
            raise ValueError(f"formats entries must be 'csr' or 'numba', got {f!r}")
    return out


def export_sparse_inference(module: nn.Module, min_sparsity: float = 0.8, batch_size: int = 256,
                            reps: int = 100, warmup: int = 10, force: bool | str = False,
                            formats: Iterable[str] = ("csr", "numba"),
                            generator: torch.Generator | None = None) -> nn.Module:
    """A copy of ``module`` (eval mode) whose sparse Linears run in a compressed format where that is faster.

    Every ``nn.Linear`` with at least ``min_sparsity`` exact zeros is a candidate. Its compressed versions
    (``formats``: ``"csr"`` = :class:`CSRLinear` on ``torch.sparse_csr``; ``"numba"`` =
    :class:`~deeprl.sparse.kernels.NumbaCSRLinear`, CPU float32) are checked numerically
    (``max|y − y_dense| ≤ 1e-5·(1 + |y|)``, else RuntimeError) and timed against the dense layer at
    ``batch_size`` (``reps``/``warmup`` calls, interleaved); the fastest of dense and the candidates is kept.
    ``force=True`` (or a format name) converts every candidate to the first (or named) format without timing.
    The per-layer choices and timings are in the returned module's ``export_report``.
    """
    if not 0.0 <= min_sparsity <= 1.0:
        raise ValueError(f"min_sparsity must be in [0, 1], got {min_sparsity!r}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size!r}")
    formats = tuple(formats)
    if force and not isinstance(force, bool) and force not in formats:
        raise ValueError(f"force must be True, False or one of {formats}, got {force!r}")
    out = copy.deepcopy(module).eval()
    gen = generator if generator is not None else torch.Generator().manual_seed(0)
    report: list[dict[str, Any]] = []
    for name, mod in list(out.named_modules()):
        if not isinstance(mod, nn.Linear):
            continue
        sp = _sparsity(mod.weight.detach())
        row: dict[str, Any] = {"layer": name or "<root>", "shape": list(mod.weight.shape), "sparsity": sp,
                               "format": "dense", "times_us": {}}
        if sp >= min_sparsity:
            cands = _candidates(mod, (formats[0] if force is True else str(force),) if force else formats)
            x = torch.randn(batch_size, mod.in_features, generator=gen).to(mod.weight.device, mod.weight.dtype)
            with torch.no_grad():
                y_ref = mod(x)
                for fmt, c in cands.items():
                    err = float(((c(x) - y_ref).abs() / (1 + y_ref.abs())).max())
                    if err > 1e-5:
                        raise RuntimeError(f"{fmt} export of {name!r} differs from the dense layer by {err:.3g} > 1e-5")
                    row[f"max_rel_err_{fmt}"] = err
            if force:
                row["format"] = formats[0] if force is True else str(force)
            elif cands:
                fns = {"dense": lambda m=mod, x=x: m(x)}
                fns.update({f: (lambda c=c, x=x: c(x)) for f, c in cands.items()})
                row["times_us"] = _time_calls(fns, reps, warmup)
                row["format"] = min(row["times_us"], key=row["times_us"].get)
            if row["format"] != "dense":
                new = cands[row["format"]]
                if name:
                    _set_submodule(out, name, new)
                else:  # the module itself is a Linear
                    out = new
        report.append(row)
    out.export_report = report  # type: ignore[attr-defined]
    return out


def benchmark_inference(module: nn.Module, exported: nn.Module | None = None, in_features: int | None = None,
                        batch_sizes: Iterable[int] = (1, 256), threads: Iterable[int] = (1, 2),
                        reps: int = 200, warmup: int = 20, min_sparsity: float = 0.8) -> list[dict[str, Any]]:
    """Table of µs/call and speedup of the sparse export vs the masked dense ``module`` (§1.9).

    ``exported=None`` exports per batch size (the auto-selection uses that batch); ``in_features``
    defaults to the first Linear's. Each row: batch, threads, dense_us, sparse_us, speedup, formats.
    """
    if in_features is None:
        first = next((m for m in module.modules() if isinstance(m, nn.Linear)), None)
        if first is None:
            raise ValueError("in_features is required for a module without nn.Linear layers")
        in_features = first.in_features
    dense = copy.deepcopy(module).eval()
    old = torch.get_num_threads()
    rows = []
    gen = torch.Generator().manual_seed(0)
    try:
        for th in threads:
            torch.set_num_threads(int(th))
            for b in batch_sizes:
                sp = exported if exported is not None else export_sparse_inference(
                    module, min_sparsity=min_sparsity, batch_size=int(b))
                x = torch.randn(int(b), in_features, generator=gen)
                t = _time_calls({"dense": lambda x=x: dense(x), "sparse": lambda x=x, s=sp: s(x)}, reps, warmup)
                fmts = [r["format"] for r in getattr(sp, "export_report", [])]
                rows.append({"batch": int(b), "threads": int(th), "dense_us": t["dense"], "sparse_us": t["sparse"],
                             "speedup": t["dense"] / t["sparse"], "formats": fmts})
    finally:
        torch.set_num_threads(old)
    return rows


def format_table(rows: list[dict[str, Any]]) -> str:
    """Plain-text table of :func:`benchmark_inference` rows."""
    head = f"{'batch':>6} {'threads':>7} {'dense µs':>10} {'sparse µs':>10} {'speedup':>8}  formats"
    lines = [head]
    for r in rows:
        lines.append(f"{r['batch']:>6} {r['threads']:>7} {r['dense_us']:>10.1f} {r['sparse_us']:>10.1f} "
                     f"{r['speedup']:>8.2f}  {','.join(r['formats'])}")
    return "\n".join(lines)
