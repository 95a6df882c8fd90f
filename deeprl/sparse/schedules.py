"""Schedules of the topology updates (sparse spec §1.5, eq. (7); MST spec eqs. (4)-(7)).

- :class:`DropFractionSchedule` ``(t) -> ζ_t``: ``"cosine"`` (eq. (7), optionally restarted at phase
  boundaries as in MST spec eq. (4)), ``"constant"``, ``"linear"``.
- :class:`UpdateSchedule` ``(t) -> bool``: every ``interval`` group steps while ``t < end``.
- :class:`TargetSchedule` ``(t) -> S(t)``: the group's global sparsity target over time: ``"constant"``,
  ``"three_phase"`` (MST warm-up / ultra / restoration, MST eqs. (5)-(7)) and ``"piecewise"``.

Time ``t`` is the 1-based index of the group's current optimizer iteration: the k-th call of
``SparseTrainer.step()`` has ``t = k`` (rigl-torch counts the same way: the first update is at ``t = ΔT``).
"""

from __future__ import annotations

import bisect
import math
import numbers
from collections.abc import Iterable, Mapping
from typing import Any


class DropFractionSchedule:
    """``ζ_t`` of eq. (7).

    ``kind``: ``"cosine"``: ``ζ_t = (ζ_0/2)(1 + cos(π t / T_end))``; ``"linear"``: ``ζ_0 (1 − t/T_end)``;
    ``"constant"``: ``ζ_0``. With ``boundaries=(b_1, b_2, …)`` the cosine/linear decay restarts in every
    phase ``[s_p, e_p)`` (MST spec eq. (4)): ``ζ_t = (ζ_0/2)(1 + cos(π (t − s_p)/(e_p − s_p)))``.
    After ``end`` the fraction is 0.
    """

    KINDS = ("cosine", "constant", "linear")

    def __init__(self, kind: str = "cosine", zeta0: float = 0.5, end: int = 1,
                 boundaries: Iterable[int] = ()) -> None:
        if kind not in self.KINDS:
            raise ValueError(f"drop fraction kind must be one of {', '.join(self.KINDS)}, got {kind!r}")
        if not 0.0 <= float(zeta0) <= 1.0:
            raise ValueError(f"zeta0 must be in [0, 1], got {zeta0!r}")
        if int(end) < 1:
            raise ValueError(f"end must be a positive number of steps, got {end!r}")
        self.kind, self.zeta0, self.end = kind, float(zeta0), int(end)
        self.boundaries = sorted({int(b) for b in boundaries if 0 < int(b) < self.end})

    def _phase(self, t: float) -> tuple[float, float]:
        pts = [0, *self.boundaries, self.end]
        i = max(0, bisect.bisect_right(pts, t) - 1)
        i = min(i, len(pts) - 2)
        return float(pts[i]), float(pts[i + 1])

    def __call__(self, t: float) -> float:
        if t >= self.end:
            return 0.0
        if self.kind == "constant":
            return self.zeta0
        s, e = self._phase(t)
        x = (t - s) / (e - s)
        if self.kind == "cosine":
            return self.zeta0 / 2.0 * (1.0 + math.cos(math.pi * x))
        return self.zeta0 * (1.0 - x)

    def config(self) -> dict[str, Any]:
        """JSON-able description."""
        return {"kind": self.kind, "zeta0": self.zeta0, "end": self.end, "boundaries": list(self.boundaries)}


class UpdateSchedule:
    """``t -> bool``: a topology update at ``t`` iff ``t ≥ start``, ``(t − start) % interval == 0``, ``t > 0``
    and ``t < end`` (§1.5). ``end=None`` means never stop."""

    def __init__(self, interval: int, end: int | None = None, start: int = 0) -> None:
        if int(interval) < 1:
            raise ValueError(f"interval must be a positive number of steps, got {interval!r}")
        if end is not None and int(end) < 0:
            raise ValueError(f"end must be >= 0 or None, got {end!r}")
        if int(start) < 0:
            raise ValueError(f"start must be >= 0, got {start!r}")
        self.interval, self.start = int(interval), int(start)
        self.end = None if end is None else int(end)

    def __call__(self, t: int) -> bool:
        if t <= 0 or t < self.start or (self.end is not None and t >= self.end):
            return False
        return (t - self.start) % self.interval == 0

    def n_updates(self, total_steps: int) -> int:
        """How many updates happen in steps ``1..total_steps``."""
        return sum(1 for t in range(self.interval, total_steps + 1, self.interval) if self(t))

    def config(self) -> dict[str, Any]:
        """JSON-able description."""
        return {"interval": self.interval, "end": self.end, "start": self.start}


class TargetSchedule:
    """``t -> S(t)``: the group's global sparsity target (MST spec §3.5). Sampled only at update steps."""

    name = "base"

    def __call__(self, t: float) -> float:
        raise NotImplementedError

    def config(self) -> dict[str, Any]:
        """JSON-able description."""
        raise NotImplementedError


class ConstantTarget(TargetSchedule):
    """``S(t) = S``: the usual fixed-sparsity DST (RLx2, MAST)."""

    name = "constant"

    def __init__(self, sparsity: float) -> None:
        if not 0.0 <= float(sparsity) < 1.0:
            raise ValueError(f"sparsity must be in [0, 1), got {sparsity!r}")
        self.sparsity = float(sparsity)

    def __call__(self, t: float) -> float:
        return self.sparsity

    def config(self) -> dict[str, Any]:  # noqa: D102
        return {"name": self.name, "sparsity": self.sparsity}


class ThreePhaseTarget(TargetSchedule):
    """MST sparsity variation, MST spec eqs. (5)-(7), with ``t_w = φ_w·T``, ``t_r = φ_r·T``:

    warm-up ``S_0 + (S_u − S_0)·g(t/t_w)``; ultra ``S_u``; restoration ``S_u + (S_f − S_u)(t − t_r)/(T − t_r)``;
    ``g(x) = x`` (``shape="linear"``) or ``1 − (1 − x)^3`` (``"cubic"``).
    """

    name = "three_phase"

    def __init__(self, total: int, s0: float = 0.0, s_ultra: float = 0.9, s_final: float = 0.5,
                 phi_w: float = 0.10, phi_r: float = 0.75, shape: str = "linear") -> None:
        for nm, v in (("s0", s0), ("s_ultra", s_ultra), ("s_final", s_final)):
            if not 0.0 <= float(v) < 1.0:
                raise ValueError(f"{nm} must be in [0, 1), got {v!r}")
        if not 0.0 <= phi_w <= phi_r <= 1.0:
            raise ValueError(f"need 0 <= phi_w <= phi_r <= 1, got phi_w={phi_w}, phi_r={phi_r}")
        if int(total) < 1:
            raise ValueError(f"total must be a positive number of steps, got {total!r}")
        if shape not in ("linear", "cubic"):
            raise ValueError(f"shape must be 'linear' or 'cubic', got {shape!r}")
        self.total, self.s0, self.su, self.sf = int(total), float(s0), float(s_ultra), float(s_final)
        self.phi_w, self.phi_r, self.shape = float(phi_w), float(phi_r), shape
        self.t_w, self.t_r = self.phi_w * self.total, self.phi_r * self.total

    @property
    def boundaries(self) -> tuple[int, int]:
        """Phase boundaries ``(t_w, t_r)`` as steps (for a restarted drop-fraction cosine)."""
        return int(round(self.t_w)), int(round(self.t_r))

    def __call__(self, t: float) -> float:
        if t < self.t_w:
            x = t / self.t_w
            g = x if self.shape == "linear" else 1.0 - (1.0 - x) ** 3
            return self.s0 + (self.su - self.s0) * g
        if t < self.t_r or self.t_r >= self.total:
            return self.su
        x = min(1.0, (t - self.t_r) / (self.total - self.t_r))
        return self.su + (self.sf - self.su) * x

    def config(self) -> dict[str, Any]:  # noqa: D102
        return {"name": self.name, "total": self.total, "s0": self.s0, "s_ultra": self.su, "s_final": self.sf,
                "phi_w": self.phi_w, "phi_r": self.phi_r, "shape": self.shape}


class PiecewiseTarget(TargetSchedule):
    """``{step: S}``: S(t) is the value of the largest key ``≤ t`` (the MST code's form)."""

    name = "piecewise"

    def __init__(self, points: Mapping[int, float]) -> None:
        if not points or 0 not in {int(k) for k in points}:
            raise ValueError("points must be a non-empty {step: sparsity} dict with a key 0")
        self.keys = sorted(int(k) for k in points)
        self.vals = [float(points[k]) for k in sorted(points, key=int)]
        for v in self.vals:
            if not 0.0 <= v < 1.0:
                raise ValueError(f"every sparsity in points must be in [0, 1), got {v!r}")

    def __call__(self, t: float) -> float:
        return self.vals[bisect.bisect_right(self.keys, t) - 1]

    def config(self) -> dict[str, Any]:  # noqa: D102
        return {"name": self.name, "points": dict(zip(self.keys, self.vals))}


def make_target(spec: float | TargetSchedule) -> TargetSchedule:
    """A float becomes :class:`ConstantTarget`; a :class:`TargetSchedule` passes through."""
    if isinstance(spec, TargetSchedule):
        return spec
    if isinstance(spec, numbers.Real) and not isinstance(spec, bool):
        return ConstantTarget(float(spec))
    raise ValueError(f"sparsity must be a float in [0, 1) or a TargetSchedule, got {spec!r}")
