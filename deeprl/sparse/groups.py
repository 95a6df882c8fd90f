"""Sparse groups: which weights of a network are sparsified, under one global target (sparse spec §1.1).

A group is one network (``"actor"``, ``"critic"``, ``"agent"``, ``"mixer"``, ...) and its global sparsity
``S_g`` (a float or a :class:`~deeprl.sparse.schedules.TargetSchedule`). Sparsifiable weights:

- every ``nn.Linear.weight``;
- ``weight_ih`` and ``weight_hh`` of ``nn.GRUCell`` / ``nn.LSTMCell`` / ``nn.RNNCell`` (two layers each), and
  ``weight_ih_l{k}[_reverse]`` / ``weight_hh_l{k}[_reverse]`` of ``nn.GRU`` / ``nn.LSTM`` / ``nn.RNN``.

Biases, norms, embeddings (unless tied to a Linear head) and any non-weight parameter stay dense.
``include`` / ``exclude`` are ``fnmatch`` patterns on the parameter's qualified name inside the module
(e.g. ``exclude=("fc_out.weight",)`` or ``include=("q1.*", "q2.*")``): excluded layers stay dense and out of
the budget, but are still counted in the network's FLOPs. ``dense_layers`` instead keeps a layer dense
*inside* the budget (the distribution's set D). A weight shared by two modules (tied LM head) is one layer.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from torch import nn

from deeprl.sparse.distributions import SparsityDistribution, make_distribution
from deeprl.sparse.schedules import TargetSchedule, make_target

RNN_CELLS = (nn.GRUCell, nn.LSTMCell, nn.RNNCell)
RNNS = (nn.GRU, nn.LSTM, nn.RNN)


@dataclass(frozen=True)
class LayerInfo:
    """One matmul weight of a network: qualified name, shape, kind and whether the group sparsifies it.

    ``kind`` is ``"linear"`` or ``"<cell>_ih"`` / ``"<cell>_hh"`` with ``<cell>`` in gru, lstm, rnn;
    ``hidden`` is the recurrent width (0 for Linear); ``bias`` whether the layer adds a bias.
    """

    name: str
    shape: tuple[int, ...]
    kind: str
    sparse: bool
    bias: bool
    hidden: int = 0

    @property
    def numel(self) -> int:
        """``N_l = n_in·n_out``."""
        n = 1
        for v in self.shape:
            n *= int(v)
        return n


def _cell_kind(mod: nn.Module) -> str:
    if isinstance(mod, (nn.GRUCell, nn.GRU)):
        return "gru"
    if isinstance(mod, (nn.LSTMCell, nn.LSTM)):
        return "lstm"
    return "rnn"


def iter_matmul_weights(module: nn.Module) -> Iterator[tuple[str, nn.Parameter, str, bool, int]]:
    """Yield ``(qualified name, parameter, kind, has_bias, hidden)`` for every sparsifiable weight, once each."""
    seen: set[int] = set()
    for mname, mod in module.named_modules():
        prefix = f"{mname}." if mname else ""
        items: list[tuple[str, str, bool, int]] = []
        if isinstance(mod, nn.Linear):
            items.append(("weight", "linear", mod.bias is not None, 0))
        elif isinstance(mod, RNN_CELLS):
            k = _cell_kind(mod)
            items += [("weight_ih", f"{k}_ih", mod.bias, mod.hidden_size),
                      ("weight_hh", f"{k}_hh", mod.bias, mod.hidden_size)]
        elif isinstance(mod, RNNS):
            k = _cell_kind(mod)
            for pname, _ in mod.named_parameters(recurse=False):
                if pname.startswith("weight_ih_l"):
                    items.append((pname, f"{k}_ih", bool(mod.bias), mod.hidden_size))
                elif pname.startswith("weight_hh_l"):
                    items.append((pname, f"{k}_hh", bool(mod.bias), mod.hidden_size))
        for pname, kind, has_bias, hidden in items:
            p = getattr(mod, pname)
            if p is None or id(p) in seen:
                continue
            seen.add(id(p))
            yield prefix + pname, p, kind, has_bias, hidden


def _match(name: str, patterns: Iterable[str]) -> bool:
    return any(fnmatch.fnmatchcase(name, pat) for pat in patterns)


class SparseGroup:
    """One network's sparse layers and their global target (§1.1).

    Parameters
    ----------
    name: the group's name (``"actor"``, ``"critic"``, ...): keys in masks, checkpoints, inspect output.
    module: the online network. Its qualified parameter names key the masks.
    sparsity: global sparsity S in [0, 1) or a :class:`TargetSchedule` S(t) (MST).
    include, exclude: fnmatch patterns on qualified weight names choosing the sparsified layers.
    distribution: ``"uniform" | "er" | "erk"`` or a :class:`SparsityDistribution` (default ER, as RLx2).
    dense_layers: layers kept dense inside the budget (the distribution's D).
    """

    def __init__(self, name: str, module: nn.Module, sparsity: float | TargetSchedule = 0.9, *,
                 include: Iterable[str] | None = None, exclude: Iterable[str] = (),
                 distribution: str | SparsityDistribution = "er", dense_layers: Iterable[str] = ()) -> None:
        if not name or "/" in name:
            raise ValueError(f"group name must be a non-empty string without '/', got {name!r}")
        if not isinstance(module, nn.Module):
            raise ValueError(f"module of group {name!r} must be a torch.nn.Module, got {type(module).__name__}")
        self.name = name
        self.module = module
        self.target = make_target(sparsity)
        include = None if include is None else tuple(include)
        exclude = tuple(exclude)
        dense_layers = tuple(dense_layers)
        self.layers: list[LayerInfo] = []
        self.params: dict[str, nn.Parameter] = {}
        for qname, p, kind, has_bias, hidden in iter_matmul_weights(module):
            sparse = (include is None or _match(qname, include)) and not _match(qname, exclude)
            self.layers.append(LayerInfo(qname, tuple(p.shape), kind, sparse, has_bias, hidden))
            if sparse:
                self.params[qname] = p
        if not self.params:
            raise ValueError(f"group {name!r}: no sparsifiable weight matches include={include} exclude={exclude}")
        bad = [d for d in dense_layers if d not in self.params]
        if bad:
            raise ValueError(f"group {name!r}: dense_layers {bad} are not sparsified layers {list(self.params)}")
        if isinstance(distribution, SparsityDistribution):
            if dense_layers:
                raise ValueError("pass dense_layers either to the group or to the distribution instance, not both")
            self.distribution = distribution
        else:
            self.distribution = make_distribution(distribution, dense_layers=dense_layers)

    @property
    def shapes(self) -> dict[str, tuple[int, ...]]:
        """Shapes of the sparsified layers."""
        return {k: tuple(p.shape) for k, p in self.params.items()}

    def densities(self, sparsity: float) -> dict[str, float]:
        """Per-layer densities at global sparsity ``sparsity`` (eqs. (2)-(5))."""
        return self.distribution.densities(self.shapes, sparsity)

    def __repr__(self) -> str:
        return f"SparseGroup({self.name!r}, layers={list(self.params)}, target={self.target.config()})"
