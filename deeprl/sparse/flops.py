"""FLOPs accounting (sparse spec §1.10, eqs. (14)-(19)).

Headline convention (reproduces RLx2 Table 2): per sample, a matmul weight with ``nnz`` active entries costs
``2·nnz`` FLOPs forward (multiply and add counted separately), biases and activations excluded, eq. (14).
The ``full=True`` count adds biases (one add per output) and recurrent-cell gate arithmetic, one FLOP per
element-wise op incl. each sigmoid/tanh [our choice]: GRU ``11·h``, LSTM ``13·h``, RNN ``2·h`` per step;
activations *between* layers are not visible to the engine and are not counted.

Training (per sample): backward ≈ 2·forward, so a static/SET step costs ``3·f_S``; a RigL update iteration
costs ``2·f_S + f_D`` (dense weight gradient), giving the per-step average of eq. (15).
The actor-critic and MARL per-iteration formulas (16), (17), (19) are the pure functions below; a method
feeds them the forward counts of its networks (``FlopsCounter.forward``) and accumulates with
:meth:`FlopsCounter.add`. Ratios (eq. (18)) are sums of sparse over sums of dense FLOPs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from deeprl.sparse.groups import LayerInfo

_GATE_OPS = {"gru": 11, "lstm": 13, "rnn": 2}
_GATES = {"gru": 3, "lstm": 4, "rnn": 1}


def layer_forward_flops(layer: LayerInfo, nnz: int | None = None, full: bool = False) -> int:
    """Eq. (14): ``2·nnz`` (``nnz=None``: dense, ``2·N``); ``full`` adds bias adds and cell gate ops."""
    n = layer.numel if nnz is None else int(nnz)
    f = 2 * n
    if full:
        if layer.kind == "linear":
            f += layer.shape[0] if layer.bias else 0
        else:
            cell = layer.kind.split("_")[0]
            f += layer.shape[0] if layer.bias else 0  # b_ih or b_hh: one add per gate pre-activation
            if layer.kind.endswith("_hh"):
                f += _GATE_OPS[cell] * layer.hidden  # gate arithmetic, charged once per cell
    return f


def rigl_train_flops(f_sparse: float, f_dense: float, interval: int) -> float:
    """Eq. (15): RigL training FLOPs per step, averaged: ``(3 f_S ΔT + 2 f_S + f_D)/(ΔT + 1)``."""
    if interval < 1:
        raise ValueError(f"interval must be >= 1, got {interval!r}")
    return (3.0 * f_sparse * interval + 2.0 * f_sparse + f_dense) / (interval + 1.0)


def static_train_flops(f_sparse: float) -> float:
    """Eq. (15), static / SET: ``3·f_S`` per step."""
    return 3.0 * f_sparse


def td3_iteration_flops(f_actor: float, f_critic_twin: float, f_q1: float, batch: int = 256,
                        policy_delay: int = 2, f_actor_target: float | None = None,
                        f_critic_target_twin: float | None = None) -> float:
    """Eq. (16): ``B·[f^π' + f^{Q'}_twin + 3 f^Q_twin + (1/d)(3 f^π + 2 f^{Q1})]`` per training iteration.

    Targets share the online masks (§1.8), so their forward counts default to the online ones.
    """
    fa_t = f_actor if f_actor_target is None else f_actor_target
    fq_t = f_critic_twin if f_critic_target_twin is None else f_critic_target_twin
    return batch * (fa_t + fq_t + 3.0 * f_critic_twin + (3.0 * f_actor + 2.0 * f_q1) / policy_delay)


def sac_iteration_flops(f_actor: float, f_critic_twin: float, batch: int = 256, n_actor_target: int = 1,
                        f_critic_target_twin: float | None = None) -> float:
    """Eq. (17): ``B·[n_π f^π + f^{Q'}_twin + 3 f^Q_twin + 3 f^π + 2 f^Q_twin]`` (SAC convention [U])."""
    fq_t = f_critic_twin if f_critic_target_twin is None else f_critic_target_twin
    return batch * (n_actor_target * f_actor + fq_t + 3.0 * f_critic_twin + 3.0 * f_actor + 2.0 * f_critic_twin)


def marl_iteration_flops(f_agent: float, f_mixer: float, n_agents: int, batch_episodes: int, episode_len: int,
                         f_agent_target: float | None = None, f_mixer_target: float | None = None) -> float:
    """Eq. (19) training part: ``B·T·[n (3 f^agent + f^agent') + 3 f^mix + f^mix']``.

    ``f_mixer`` should include the dense mixing arithmetic ``2·n·E + 2·E``; acting adds ``n·f^agent``
    per environment step (add it separately).
    """
    fa_t = f_agent if f_agent_target is None else f_agent_target
    fm_t = f_mixer if f_mixer_target is None else f_mixer_target
    return batch_episodes * episode_len * (n_agents * (3.0 * f_agent + fa_t) + 3.0 * f_mixer + fm_t)


class FlopsCounter:
    """Per-network forward FLOPs from the live masks, and run totals (eq. (18)).

    Networks are registered by the :class:`~deeprl.sparse.trainer.SparseTrainer` (one per sparse group,
    under the group's name); ``forward(name)`` always uses the current masks. ``add(key, sparse, dense)``
    accumulates any FLOPs a method computes (e.g. eq. (16)); the trainer itself accumulates, under
    ``"train/<group>"``, each group's per-step cost ``3 f_S`` or, on a RigL update iteration,
    ``2 f_S + f_D`` (eq. (15) summed over the run) against ``3 f_D``, times the step's sample count, and
    the same with the full count under ``"train_full/<group>"``.
    """

    def __init__(self) -> None:
        self._nets: dict[str, tuple[list[LayerInfo], Callable[[], Mapping[str, int]]]] = {}
        self.totals: dict[str, dict[str, float]] = {}

    def register(self, name: str, layers: list[LayerInfo], nnz: Callable[[], Mapping[str, int]]) -> None:
        """Register a network: its matmul layers and a callable giving the live ``nnz`` of sparse ones."""
        self._nets[name] = (list(layers), nnz)

    @property
    def networks(self) -> list[str]:
        """Registered network names."""
        return list(self._nets)

    def layer_table(self, name: str, full: bool = False) -> list[dict[str, Any]]:
        """Per-layer rows: name, shape, kind, sparse, nnz, numel, density, flops_sparse, flops_dense."""
        if name not in self._nets:
            raise KeyError(f"no network {name!r}; registered: {', '.join(self._nets) or 'none'}")
        layers, nnz_fn = self._nets[name]
        nnz = nnz_fn()
        rows = []
        for lay in layers:
            k = int(nnz[lay.name]) if lay.sparse else lay.numel
            rows.append({
                "name": lay.name, "shape": list(lay.shape), "kind": lay.kind, "sparse": lay.sparse,
                "nnz": k, "numel": lay.numel, "density": k / lay.numel,
                "flops_sparse": layer_forward_flops(lay, k, full), "flops_dense": layer_forward_flops(lay, None, full),
            })
        return rows

    def forward(self, name: str, sparse: bool = True, full: bool = False) -> int:
        """Per-sample forward FLOPs ``f`` of network ``name`` (eq. (14)); ``sparse=False``: dense ``f_D``."""
        key = "flops_sparse" if sparse else "flops_dense"
        return int(sum(r[key] for r in self.layer_table(name, full)))

    def inference_ratio(self, name: str) -> float:
        """Eq. (18) inference ratio ``f_S / f_D`` of one network."""
        return self.forward(name, True) / self.forward(name, False)

    def add(self, key: str, sparse: float, dense: float) -> None:
        """Accumulate ``sparse`` and ``dense`` FLOPs under ``key``."""
        t = self.totals.setdefault(key, {"sparse": 0.0, "dense": 0.0})
        t["sparse"] += float(sparse)
        t["dense"] += float(dense)

    def ratio(self, key: str) -> float:
        """Eq. (18): accumulated sparse / dense FLOPs under ``key``."""
        if key not in self.totals or self.totals[key]["dense"] == 0:
            raise KeyError(f"no FLOPs accumulated under {key!r}; keys: {', '.join(self.totals) or 'none'}")
        return self.totals[key]["sparse"] / self.totals[key]["dense"]

    def summary(self) -> dict[str, Any]:
        """Forward FLOPs per network and accumulated totals with ratios (JSON-able)."""
        nets = {n: {"forward_sparse": self.forward(n, True), "forward_dense": self.forward(n, False),
                    "inference_ratio": self.inference_ratio(n)} for n in self._nets}
        tot = {k: {**v, "ratio": (v["sparse"] / v["dense"] if v["dense"] else float("nan"))}
               for k, v in self.totals.items()}
        return {"networks": nets, "totals": tot}

    def state_dict(self) -> dict[str, Any]:
        """Totals (the per-network counts are recomputed from the masks)."""
        return {"totals": {k: dict(v) for k, v in self.totals.items()}}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore totals."""
        self.totals = {k: {"sparse": float(v["sparse"]), "dense": float(v["dense"])}
                       for k, v in state.get("totals", {}).items()}
