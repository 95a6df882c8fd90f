"""Schedules of an MST run: sparsity target S(t), drop fraction f(t), HSA window, learning rate.

S(t) (MST spec eqs. (5)–(7)) and f(t) (eq. (4)) live once, in the shared engine
(:class:`deeprl.sparse.schedules.ThreePhaseTarget`, :class:`~deeprl.sparse.schedules.DropFractionSchedule`);
this module only builds them for a method and adds what is MST's own: the phase names, the HSA
window (the ultra phase [t_w, t_r) by default, §4.2) and the nanoGPT learning-rate schedule (§2.2).

Time: the engine's t is 1-based (the k-th ``SparseTrainer.step()`` has t = k), so training iteration
``it`` (0-based) is engine time ``t = it + 1``. Phase boundaries t_w = φ_w·T, t_r = φ_r·T.
"""

from __future__ import annotations

import math

from deeprl.sparse.schedules import (
    ConstantTarget,
    DropFractionSchedule,
    PiecewiseTarget,
    TargetSchedule,
    ThreePhaseTarget,
    UpdateSchedule,
)

METHODS = ("dense", "static", "rigl", "mst")


def sparsity_target(method: str, total: int, *, sparsity: float = 0.9, s0: float = 0.0, su: float = 0.9,
                    sf: float = 0.5, phi_w: float = 0.10, phi_r: float = 0.75, shape: str = "linear",
                    sv: bool = True, piecewise: dict[int, float] | None = None) -> TargetSchedule | None:
    """S(t) for a method: None (dense), constant ``sparsity`` (static, rigl), or MST's three phases
    (eqs. (5)–(7)); ``sv=False`` holds S_u throughout (the "no SV" ablation); ``piecewise`` is the
    released code's {iteration: S} form."""
    if method not in METHODS:
        raise ValueError(f"--method {method!r} is not one of {', '.join(METHODS)}")
    if method == "dense":
        return None
    if method in ("static", "rigl"):
        return ConstantTarget(sparsity)
    if piecewise is not None:
        return PiecewiseTarget(piecewise)
    if not sv:
        return ConstantTarget(su)
    return ThreePhaseTarget(total, s0=s0, s_ultra=su, s_final=sf, phi_w=phi_w, phi_r=phi_r, shape=shape)


def phase_bounds(total: int, phi_w: float, phi_r: float) -> tuple[int, int]:
    """(t_w, t_r) = (round(φ_w·T), round(φ_r·T)) in iterations."""
    if not 0.0 <= phi_w <= phi_r <= 1.0:
        raise ValueError(f"need 0 <= --phi-w <= --phi-r <= 1, got {phi_w}, {phi_r}")
    return int(round(phi_w * total)), int(round(phi_r * total))


def phase_name(t: int, t_w: int, t_r: int) -> str:
    """``warmup`` for t < t_w, ``ultra`` for t_w ≤ t < t_r, ``restoration`` after."""
    return "warmup" if t < t_w else ("ultra" if t < t_r else "restoration")


def update_schedule(method: str, delta_t: int, total: int) -> UpdateSchedule | None:
    """Topology updates every ΔT iterations while t < T_end = T (§3.4); none for dense/static."""
    if method in ("dense", "static"):
        return None
    return UpdateSchedule(delta_t, end=total)


def drop_fraction(method: str, zeta: float, total: int, bounds: tuple[int, int],
                  mode: str = "phase") -> DropFractionSchedule:
    """f(t): eq. (4), a cosine restarted at the phase boundaries (``mode="phase"``, MST default) or
    one cosine over [0, T) (``"global"``, the code default and the RigL-only baseline)."""
    if mode not in ("phase", "global"):
        raise ValueError(f"--drop-schedule {mode!r} is not 'phase' or 'global'")
    restarts = bounds if (method == "mst" and mode == "phase") else ()
    return DropFractionSchedule("cosine", zeta, end=total, boundaries=restarts)


def learning_rate(it: int, lr: float, min_lr: float, warmup: int, total: int) -> float:
    """nanoGPT schedule (§2.2): linear warm-up lr·(it+1)/(warmup+1), then cosine to ``min_lr`` at the
    last iteration ``total − 1``."""
    if it < warmup:
        return lr * (it + 1) / (warmup + 1)
    span = max(total - 1 - warmup, 1)
    ratio = min(max((it - warmup) / span, 0.0), 1.0)
    return min_lr + 0.5 * (1.0 + math.cos(math.pi * ratio)) * (lr - min_lr)
