"""Configuration of a MAST / QMIX-family run; defaults follow spec ``sparse.md`` §3 and §5.6.

Every MAST part is a switch, so the ablations of E-M1/E-M2 run from the same code:
``soft_mellowmax`` (§3.2), ``hybrid_td`` (§3.3), ``dual_buffer`` (§3.4), ``topology`` (§3.5:
``dense`` | ``static`` sparse | ``rigl`` topology evolution). ``MastConfig.preset(name)`` gives the four
arms of E-M1: ``dense`` (dense QMIX), ``static`` (static sparse), ``rigl`` (RigL-only) and ``mast``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from deeprl.mast.td_lambda import HYBRID_ORDERS

ALGORITHMS = ("qmix", "wqmix", "res")
TOPOLOGIES = ("dense", "static", "rigl")
INPUT_SCALES = ("none", "bounds")  # deeprl.mast.input_scaling
PRESETS = ("mast", "rigl", "static", "dense")


@dataclass(frozen=True)
class MastConfig:
    algorithm: str = "qmix"
    task: str = "lbf"
    steps: int = 500_000  # environment steps
    seed: int = 0
    device: str = "cpu"
    # --- sparsity (§3.5) ---
    topology: str = "rigl"
    sparsity: float = 0.9  # every group: agent, mixer (hypernetworks included), central nets
    distribution: str = "er"
    mask_update_episodes: int = 200  # Delta T, in episodes (= optimizer steps: one update per episode)
    zeta0: float = 0.5
    t_end_frac: float = 1.0  # topology updates until this fraction of training
    # --- MAST parts ---
    soft_mellowmax: bool = True
    omega: float = 10.0
    alpha: float | None = None  # None: alpha = omega (spec §5.6)
    hybrid_td: bool = True
    hybrid_order: str = "onestep_first"
    t0_frac: float = 0.1
    td_lambda: float = 0.6
    dual_buffer: bool = True
    capacity_on: int = 32
    rho: float = 0.5
    # --- base learner (§3.1) ---
    buffer_size: int = 5000
    batch_size: int = 32
    gamma: float = 0.99
    optimizer: str = "adam"
    lr: float = 1e-3
    grad_clip: float = 10.0
    eps_start: float = 1.0
    eps_end: float = 0.05
    eps_anneal_steps: int = 50_000
    target_update_episodes: int = 200
    standardise_rewards: bool = True
    time_limit_bootstrap: bool = True  # False: a time-limit end is cut like a terminal state (diagnostic)
    input_scale: str = "none"  # "bounds": observations/state divided by their spaces' bounds (input_scaling.py)
    hidden: int = 64
    mixer_embed: int = 32
    hypernet_embed: int = 64
    # --- WQMIX (eq. 29) and RES (eq. 30) ---
    wqmix_variant: str = "ow"
    wqmix_alpha: float = 0.5
    central_embed: int = 256
    res_beta: float = 0.05
    res_lambda: float = 0.05
    # --- evaluation, logging, checkpoints ---
    eval_interval: int = 10_000
    eval_episodes: int = 20
    score_last_k: int = 5
    checkpoint_interval: int = 50_000
    log_interval: int = 2_000

    def __post_init__(self) -> None:
        def bad(name: str, allowed: str) -> None:
            raise ValueError(f"{name} must be {allowed}, got {getattr(self, name)!r}")

        if self.algorithm not in ALGORITHMS:
            bad("algorithm", f"one of {', '.join(ALGORITHMS)}")
        if self.topology not in TOPOLOGIES:
            bad("topology", f"one of {', '.join(TOPOLOGIES)}")
        if self.hybrid_order not in HYBRID_ORDERS:
            bad("hybrid_order", f"one of {', '.join(HYBRID_ORDERS)}")
        if self.input_scale not in INPUT_SCALES:
            bad("input_scale", f"one of {', '.join(INPUT_SCALES)}")
        if self.optimizer not in ("adam", "rmsprop"):
            bad("optimizer", "adam or rmsprop")
        if self.wqmix_variant not in ("ow", "cw"):
            bad("wqmix_variant", "ow or cw")
        if not 0.0 <= self.sparsity < 1.0:
            bad("sparsity", "in [0, 1)")
        for name in ("steps", "batch_size", "buffer_size", "capacity_on", "mask_update_episodes",
                     "target_update_episodes", "eval_interval", "eval_episodes", "checkpoint_interval",
                     "hidden", "mixer_embed", "hypernet_embed", "central_embed", "log_interval", "score_last_k"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                bad(name, "a positive integer")
        if not isinstance(self.seed, int) or self.seed < 0:
            bad("seed", "a non-negative integer")
        for name in ("gamma", "rho", "td_lambda", "t0_frac", "zeta0", "t_end_frac", "eps_start", "eps_end",
                     "wqmix_alpha"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                bad(name, "in [0, 1]")
        for name in ("omega", "lr", "grad_clip", "res_beta"):
            v = getattr(self, name)
            if not (v > 0 and math.isfinite(v)):
                bad(name, "a positive finite number")
        if self.alpha is not None and not (self.alpha >= 0 and math.isfinite(self.alpha)):
            bad("alpha", "a non-negative finite number")
        if self.res_lambda < 0:
            bad("res_lambda", "non-negative")
        if self.capacity_on > self.buffer_size:
            bad("capacity_on", f"at most buffer_size ({self.buffer_size})")
        if self.batch_size > self.buffer_size:
            bad("batch_size", f"at most buffer_size ({self.buffer_size})")

    @property
    def sm_alpha(self) -> float:
        return self.omega if self.alpha is None else float(self.alpha)

    @property
    def sparse(self) -> bool:
        return self.topology != "dense" and self.sparsity > 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> MastConfig:
        names = {f.name for f in fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"unknown config keys {sorted(unknown)}")
        return cls(**d)

    @property
    def method_label(self) -> str:
        """The E-M1 arm this config is (``mast``, ``rigl``, ``static``, ``dense``), else its parts,
        e.g. ``rigl+sm+dual``: the name the progress bar and logs show."""
        parts = [n for n, on in (("sm", self.soft_mellowmax), ("tdlam", self.hybrid_td), ("dual", self.dual_buffer))
                 if on]
        if self.topology == "rigl" and len(parts) == 3:
            return "mast"
        return "+".join([self.topology, *parts])

    @staticmethod
    def preset(name: str, **overrides: Any) -> MastConfig:
        """E-M1 arms: ``mast`` (all parts on, RigL), ``rigl`` (RigL-QMIX, no MAST targets/buffer),
        ``static`` (static sparse, no MAST parts), ``dense`` (dense QMIX, no MAST parts)."""
        if name not in PRESETS:
            raise ValueError(f"preset must be one of {', '.join(PRESETS)}, got {name!r}")
        parts = {"soft_mellowmax": name == "mast", "hybrid_td": name == "mast", "dual_buffer": name == "mast",
                 "topology": "rigl" if name in ("mast", "rigl") else name}
        return replace(MastConfig(), **{**parts, **overrides})
