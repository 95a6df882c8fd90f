"""Export to real sparse inference, and the inference micro-benchmark (sparse spec §1.9).

Masked training stores weights dense (eq. (1)): it saves no time. For deployment
:func:`export_sparse_inference` first tries to replace each MLP (an ``nn.Sequential`` of Linears and
activations, or a bare Linear) holding a layer with at least ``min_sparsity`` zeros by one
:class:`~deeprl.sparse.fused.FusedSparseMLP` (format ``"fused"``: CSR weights, feature-major activations,
one Numba call for the whole chain; the fast one). Layers not fused that way (other structures, or where the
fused chain was slower) are converted one by one to :class:`CSRLinear` (``y = (W_csr @ xᵀ)ᵀ + b`` with
``torch.sparse_csr``) or :class:`~deeprl.sparse.fused.NumbaCSRLinear` (a one-layer fused MLP). Every
replacement happens **only if** an export-time micro-benchmark at the deployment batch size shows it faster
than the dense original (the fastest wins); otherwise it stays dense. Every candidate is checked
numerically: ``max|y_sparse − y_dense| ≤ 1e-5·(1 + |y|)``. The choices and timings are stored on the
returned module as ``export_report``.

:func:`benchmark_inference` times a dense (masked) module against its exported copy for several batch
sizes and thread counts, interleaving the two so that a loaded machine slows both alike (each time is the
fastest block mean, :func:`time_calls`); speedups are quoted only from this table, never from FLOPs.
"""

from __future__ import annotations

import copy
import random
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
        return yt.t().contiguous().reshape(*lead, self.out_features)  # contiguous: keeps the next layer fast

    def extra_repr(self) -> str:
        n = self.in_features * self.out_features
        return f"in_features={self.in_features}, out_features={self.out_features}, density={self.nnz / n:.4f}"


class SparseRNNCell(nn.Module):
    """Inference-only ``GRUCell`` / ``LSTMCell`` / ``RNNCell`` whose two matmuls are compressed layers.

    ``ih`` and ``hh`` compute ``W_ih x + b_ih`` and ``W_hh h + b_hh`` (any Linear-like module); the gate
    arithmetic is torch's: GRU ``r, z = σ(·)``, ``n = tanh(i_n + r ⊙ h_n)``, ``h' = (1 − z) ⊙ n + z ⊙ h``;
    LSTM ``c' = f ⊙ c + i ⊙ g``, ``h' = o ⊙ tanh(c')``; RNN ``h' = tanh|relu(·)``.
    """

    def __init__(self, kind: str, ih: nn.Module, hh: nn.Module, hidden_size: int, nonlinearity: str = "tanh") -> None:
        super().__init__()
        self.kind, self.ih, self.hh = kind, ih, hh
        self.hidden_size, self.nonlinearity = int(hidden_size), nonlinearity

    def forward(self, x: torch.Tensor, hx: Any = None) -> Any:  # noqa: D102
        unbatched = x.dim() == 1
        if unbatched:
            x = x.unsqueeze(0)
            hx = None if hx is None else (tuple(v.unsqueeze(0) for v in hx) if isinstance(hx, tuple)
                                          else hx.unsqueeze(0))
        zeros = x.new_zeros(x.shape[0], self.hidden_size)
        with torch.no_grad():
            if self.kind == "lstm":
                h, c = (zeros, zeros) if hx is None else hx
                i, f, g, o = (self.ih(x) + self.hh(h)).chunk(4, 1)
                c2 = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
                out: Any = (torch.sigmoid(o) * torch.tanh(c2), c2)
            else:
                h = zeros if hx is None else hx
                if self.kind == "gru":
                    i_r, i_z, i_n = self.ih(x).chunk(3, 1)
                    h_r, h_z, h_n = self.hh(h).chunk(3, 1)
                    r, z = torch.sigmoid(i_r + h_r), torch.sigmoid(i_z + h_z)
                    n = torch.tanh(i_n + r * h_n)
                    out = (1 - z) * n + z * h
                else:
                    a = self.ih(x) + self.hh(h)
                    out = torch.tanh(a) if self.nonlinearity == "tanh" else torch.relu(a)
        if unbatched:
            out = tuple(v.squeeze(0) for v in out) if isinstance(out, tuple) else out.squeeze(0)
        return out


def _cell_linears(cell: nn.Module) -> tuple[nn.Linear, nn.Linear]:
    lins = []
    for part in ("ih", "hh"):
        w = getattr(cell, f"weight_{part}")
        b = getattr(cell, f"bias_{part}") if cell.bias else None
        lin = nn.Linear(w.shape[1], w.shape[0], bias=b is not None).to(w.device, w.dtype)
        with torch.no_grad():
            lin.weight.copy_(w)
            if b is not None:
                lin.bias.copy_(b)
        lins.append(lin)
    return lins[0], lins[1]


def _cell_kind(cell: nn.Module) -> str:
    return "gru" if isinstance(cell, nn.GRUCell) else "lstm" if isinstance(cell, nn.LSTMCell) else "rnn"


def time_calls(fns: dict[str, Callable[[], Any]], reps: int, warmup: int, blocks: int = 10,
               stat: str = "min", clock: str = "wall", block_us: float | None = None) -> dict[str, float]:
    """µs per call of each function: ``reps`` calls split in ``blocks`` blocks, interleaved across functions.

    Each block runs the functions in a fresh random order (seeded, reproducible), so none always runs right
    after the same other one (whose cache and allocator footprint would bias it). ``stat="min"`` (default)
    takes the fastest block mean, the least-disturbed estimate on a shared machine (as ``timeit`` advises);
    ``"median"`` the median block mean. ``clock="wall"`` (default) measures wall-clock time; ``"cpu"`` the
    process CPU time (``time.process_time``), which on an oversubscribed machine excludes time spent
    descheduled: a fair proxy of wall time with one thread, not with several (idle worker threads may spin).
    ``block_us``: instead of ``reps // blocks`` calls, each function gets as many calls per block as fill about
    ``block_us`` µs (from its warm-up time), so a slow and a fast function run equally long blocks and are
    equally likely to be preempted within one (else the slow one's longer blocks are disturbed more often).
    """
    if stat not in ("min", "median"):
        raise ValueError(f"stat must be 'min' or 'median', got {stat!r}")
    if clock not in ("wall", "cpu"):
        raise ValueError(f"clock must be 'wall' or 'cpu', got {clock!r}")
    now = time.perf_counter if clock == "wall" else time.process_time
    items = list(fns.items())
    calls = dict.fromkeys(fns, max(1, reps // blocks))
    with torch.inference_mode():
        for k, f in items:
            t0 = time.perf_counter()
            for _ in range(warmup):
                f()
            if block_us is not None:
                calls[k] = max(1, round(block_us / max((time.perf_counter() - t0) / max(warmup, 1) * 1e6, 1e-3)))
        per: dict[str, list[float]] = {k: [] for k in fns}
        order = random.Random(0)
        for _ in range(blocks):
            order.shuffle(items)
            for k, f in items:
                n = calls[k]
                t0 = now()
                for _ in range(n):
                    f()
                per[k].append((now() - t0) / n * 1e6)
    agg = min if stat == "min" else statistics.median
    return {k: float(agg(v)) for k, v in per.items()}


def _sparsity(w: torch.Tensor) -> float:
    return float((w == 0).sum()) / w.numel()


def _set_submodule(root: nn.Module, name: str, new: nn.Module) -> None:
    parent_name, _, child = name.rpartition(".")
    parent = root.get_submodule(parent_name) if parent_name else root
    setattr(parent, child, new)


FORMATS = ("fused", "csr", "numba")


def _candidates(mod: nn.Linear, formats: Iterable[str]) -> dict[str, nn.Module]:
    """Per-layer compressed versions of ``mod`` (``"fused"`` is handled per chain, not here)."""
    out: dict[str, nn.Module] = {}
    for f in formats:
        if f == "csr":
            out[f] = CSRLinear.from_linear(mod).to(mod.weight.device)
        elif f == "numba":
            if mod.weight.device.type == "cpu" and mod.weight.dtype == torch.float32:
                from deeprl.sparse.fused import NumbaCSRLinear

                out[f] = NumbaCSRLinear.from_linear(mod)
    return out


def _max_rel_err(y: Any, y_ref: torch.Tensor) -> float:
    return float(((_flat(y) - y_ref).abs() / (1 + y_ref.abs())).max())


def _fuse_chains(out: nn.Module, min_sparsity: float, batch_size: int, reps: int, warmup: int, force: bool,
                 gen: torch.Generator, clock: str) -> tuple[nn.Module, list[dict[str, Any]]]:
    """Replace each fusable MLP of ``out`` (outermost first) by a :class:`FusedSparseMLP` where faster."""
    from deeprl.sparse.fused import FusedSparseMLP, fusable_layers

    report: list[dict[str, Any]] = []
    done: list[str] = []
    for name, mod in list(out.named_modules()):
        if any(name == d or name.startswith(d + ".") or d == "" for d in done):
            continue
        chain = fusable_layers(mod)
        if chain is None:
            continue
        sps = [_sparsity(lin.weight.detach()) for lin, _ in chain]
        if max(sps) < min_sparsity:
            continue
        n_w = sum(lin.weight.numel() for lin, _ in chain)
        row: dict[str, Any] = {
            "layer": name or "<root>", "kind": "mlp", "shape": [list(lin.weight.shape) for lin, _ in chain],
            "sparsity": sum(s * lin.weight.numel() for s, (lin, _) in zip(sps, chain)) / n_w,
            "layer_sparsity": sps, "format": "dense", "times_us": {}}
        cand = FusedSparseMLP(chain)
        x = torch.randn(batch_size, chain[0][0].in_features, generator=gen)
        with torch.no_grad():
            err = _max_rel_err(cand(x), _flat(mod(x)))
        if err > 1e-5:
            raise RuntimeError(f"fused export of {row['layer']!r} differs from the dense module by {err:.3g} > 1e-5")
        row["max_rel_err_fused"] = err
        if force:
            row["format"] = "fused"
        else:
            fns = {"dense": lambda m=mod, x=x: m(x), "fused": lambda c=cand, x=x: c(x)}
            if batch_size >= cand.parallel_min_batch and torch.get_num_threads() > 1:
                # thread-parallel rows vs the serial kernel: which wins depends on the machine and its load
                serial = copy.copy(cand)
                serial.parallel_min_batch = batch_size + 1
                fns["fused_serial"] = lambda c=serial, x=x: c(x)
            row["times_us"] = time_calls(fns, reps, warmup, blocks=max(1, reps // 5), clock=clock, block_us=500)
            best = min(row["times_us"], key=row["times_us"].get)
            if best == "fused_serial":
                cand.parallel_min_batch = batch_size + 1
            row["format"] = "dense" if best == "dense" else "fused"
        row["parallel_min_batch"] = cand.parallel_min_batch
        if row["format"] == "fused":
            if name:
                _set_submodule(out, name, cand)
            else:
                out = cand
            done.append(name)
        report.append(row)
    return out, report


def export_sparse_inference(module: nn.Module, min_sparsity: float = 0.8, batch_size: int = 256,
                            reps: int = 100, warmup: int = 10, force: bool | str = False,
                            formats: Iterable[str] = FORMATS,
                            generator: torch.Generator | None = None, clock: str = "wall") -> nn.Module:
    """A copy of ``module`` (eval mode) whose sparse parts run in a compressed format where that is faster.

    1. ``"fused"`` (CPU float32): every MLP (``nn.Sequential`` of Linears, each followed by at most one of
       Identity/ReLU/Tanh/Sigmoid/LeakyReLU, or a bare Linear) with a layer of at least ``min_sparsity`` exact
       zeros becomes one :class:`~deeprl.sparse.fused.FusedSparseMLP` (all its layers in CSR, thin dense ones
       included) if that is faster than the dense chain; with several threads and a batch of at least its
       ``parallel_min_batch`` the thread-parallel and the serial kernel are both timed and the faster kept.
    2. Every remaining ``nn.Linear`` (and ``GRUCell`` / ``LSTMCell`` / ``RNNCell``, whose two matmuls are then
       compressed, :class:`SparseRNNCell`) with at least ``min_sparsity`` zeros is converted per layer:
       ``"csr"`` = :class:`CSRLinear` on ``torch.sparse_csr``; ``"numba"`` =
       :class:`~deeprl.sparse.fused.NumbaCSRLinear` (CPU float32), the fastest of dense and these.

    Each candidate is checked numerically (``max|y − y_dense| ≤ 1e-5·(1 + |y|)``, else RuntimeError) and timed
    against the dense original at ``batch_size`` (:func:`time_calls` with ``clock``: ``warmup`` calls, then
    ``reps // 5`` interleaved blocks of ~500 µs each, the fastest block counts; on a loaded machine short
    blocks of equal length are the ones most likely to run undisturbed). ``force=True`` (or a format name)
    converts every candidate to the first (or named) format without timing (``force="fused"`` fuses the
    chains and leaves other layers dense). The choices, timings and errors are in the returned module's
    ``export_report`` (one row per chain or layer).
    """
    if not 0.0 <= min_sparsity <= 1.0:
        raise ValueError(f"min_sparsity must be in [0, 1], got {min_sparsity!r}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size!r}")
    formats = tuple(formats)
    bad = [f for f in formats if f not in FORMATS]
    if bad or not formats:
        raise ValueError(f"formats entries must be among {FORMATS} (at least one), got {formats!r}")
    if force and not isinstance(force, bool) and force not in formats:
        raise ValueError(f"force must be True, False or one of {formats}, got {force!r}")
    out = copy.deepcopy(module).eval()
    gen = generator if generator is not None else torch.Generator().manual_seed(0)
    chosen = (formats[0] if force is True else str(force),) if force else formats
    report: list[dict[str, Any]] = []
    if "fused" in chosen:
        out, report = _fuse_chains(out, min_sparsity, batch_size, reps, warmup, bool(force), gen, clock)
    chosen = tuple(f for f in chosen if f != "fused")
    cells = (nn.GRUCell, nn.LSTMCell, nn.RNNCell)
    for name, mod in list(out.named_modules()):
        if not isinstance(mod, (nn.Linear, *cells)):
            continue
        is_cell = isinstance(mod, cells)
        weights = [mod.weight_ih, mod.weight_hh] if is_cell else [mod.weight]
        w0 = weights[0]
        sp = sum(float((w.detach() == 0).sum()) for w in weights) / sum(w.numel() for w in weights)
        row: dict[str, Any] = {"layer": name or "<root>", "kind": "cell" if is_cell else "layer",
                               "shape": [list(w.shape) for w in weights] if is_cell else list(w0.shape),
                               "sparsity": sp, "format": "dense", "times_us": {}}
        if sp >= min_sparsity and chosen:
            n_in = w0.shape[1]
            x = torch.randn(batch_size, n_in, generator=gen).to(w0.device, w0.dtype)
            if is_cell:
                lin_ih, lin_hh = _cell_linears(mod)
                c_ih, c_hh = _candidates(lin_ih, chosen), _candidates(lin_hh, chosen)
                cands: dict[str, nn.Module] = {
                    f: SparseRNNCell(_cell_kind(mod), c_ih[f], c_hh[f], mod.hidden_size,
                                     getattr(mod, "nonlinearity", "tanh")) for f in c_ih}
                h = torch.randn(batch_size, mod.hidden_size, generator=gen).to(w0.device, w0.dtype)
                args: tuple[Any, ...] = (x, (h, h.flip(0)) if isinstance(mod, nn.LSTMCell) else h)
            else:
                cands = _candidates(mod, chosen)
                args = (x,)
            with torch.no_grad():
                y_ref = _flat(mod(*args))
                for fmt, c in cands.items():
                    err = _max_rel_err(c(*args), y_ref)
                    if err > 1e-5:
                        raise RuntimeError(f"{fmt} export of {name!r} differs from the dense layer by {err:.3g} > 1e-5")
                    row[f"max_rel_err_{fmt}"] = err
            if force:
                row["format"] = chosen[0] if chosen[0] in cands else "dense"
            elif cands:
                fns = {"dense": lambda m=mod, a=args: m(*a)}
                fns.update({f: (lambda c=c, a=args: c(*a)) for f, c in cands.items()})
                row["times_us"] = time_calls(fns, reps, warmup, blocks=max(1, reps // 5), clock=clock, block_us=500)
                row["format"] = min(row["times_us"], key=row["times_us"].get)
            if row["format"] != "dense":
                new = cands[row["format"]]
                if name:
                    _set_submodule(out, name, new)
                else:  # the module itself is the layer
                    out = new
        report.append(row)
    out.export_report = report  # type: ignore[attr-defined]
    return out


def _flat(y: Any) -> torch.Tensor:
    return torch.cat([v.reshape(-1) for v in y]) if isinstance(y, tuple) else y.reshape(-1)


def benchmark_inference(module: nn.Module, exported: nn.Module | None = None, in_features: int | None = None,
                        batch_sizes: Iterable[int] = (1, 256), threads: Iterable[int] = (1, 2),
                        reps: int = 200, warmup: int = 20, min_sparsity: float = 0.8) -> list[dict[str, Any]]:
    """Table of µs/call and speedup of the sparse export vs the masked dense ``module`` (§1.9).

    ``exported=None`` exports per batch size (the auto-selection uses that batch); ``in_features``
    defaults to the first Linear's. Each row: batch, threads, dense_us, sparse_us, speedup, formats. The thread
    count is set for torch and Numba alike (:func:`deeprl.sparse.fused.set_num_threads`).
    """
    from deeprl.sparse.fused import set_num_threads

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
            set_num_threads(int(th))
            for b in batch_sizes:
                sp = exported if exported is not None else export_sparse_inference(
                    module, min_sparsity=min_sparsity, batch_size=int(b))
                x = torch.randn(int(b), in_features, generator=gen)
                t = time_calls({"dense": lambda x=x: dense(x), "sparse": lambda x=x, s=sp: s(x)}, reps, warmup)
                fmts = [r["format"] for r in getattr(sp, "export_report", [])]
                rows.append({"batch": int(b), "threads": int(th), "dense_us": t["dense"], "sparse_us": t["sparse"],
                             "speedup": t["dense"] / t["sparse"], "formats": fmts})
    finally:
        set_num_threads(old)
    return rows


def format_table(rows: list[dict[str, Any]]) -> str:
    """Plain-text table of :func:`benchmark_inference` rows."""
    head = f"{'batch':>6} {'threads':>7} {'dense µs':>10} {'sparse µs':>10} {'speedup':>8}  formats"
    lines = [head]
    for r in rows:
        lines.append(f"{r['batch']:>6} {r['threads']:>7} {r['dense_us']:>10.1f} {r['sparse_us']:>10.1f} "
                     f"{r['speedup']:>8.2f}  {','.join(r['formats'])}")
    return "\n".join(lines)
