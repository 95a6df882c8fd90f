"""Per-layer sparsity from one global target (sparse spec §1.3, eqs. (2)-(6); MST spec eqs. (2)-(3)).

A :class:`SparsityDistribution` maps the weight shapes of one sparse group and the group's global sparsity
``S`` to a per-layer sparsity ``{layer: s_l}``; :meth:`SparsityDistribution.densities` gives
``d_l = 1 - s_l`` and :func:`nnz_per_layer` the rounded active counts of eq. (6).

Registry names: ``"uniform"``, ``"er"``, ``"erk"`` (see :func:`make_distribution`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

Shape = Sequence[int]


def _check_sparsity(sparsity: float) -> float:
    s = float(sparsity)
    if not (0.0 <= s < 1.0) or s != s:
        raise ValueError(f"sparsity must be in [0, 1), got {sparsity!r}")
    return s


def _numel(shape: Shape) -> int:
    return int(math.prod(int(v) for v in shape))


class SparsityDistribution:
    """Base class: ``dist(shapes, S) -> {layer: s_l}`` (sparse spec §1.1 object 1).

    ``dense_layers`` names layers kept fully dense; their parameters still count in the group's
    budget (eq. (4)'s ``Σ_{l∈D} N_l``), so the other layers get sparser to keep the global density.
    """

    name = "base"

    def __init__(self, dense_layers: Iterable[str] = ()) -> None:
        self.dense_layers = frozenset(dense_layers)

    def densities(self, shapes: Mapping[str, Shape], sparsity: float) -> dict[str, float]:
        """Per-layer density ``d_l`` (to be implemented by subclasses)."""
        raise NotImplementedError

    def __call__(self, shapes: Mapping[str, Shape], sparsity: float) -> dict[str, float]:
        """Per-layer sparsity ``s_l = 1 - d_l``."""
        return {k: 1.0 - d for k, d in self.densities(shapes, sparsity).items()}

    def config(self) -> dict[str, object]:
        """JSON-able description (stored in checkpoints)."""
        return {"name": self.name, "dense_layers": sorted(self.dense_layers)}

    def _validate(self, shapes: Mapping[str, Shape], sparsity: float) -> float:
        if not shapes:
            raise ValueError("shapes must name at least one layer")
        unknown = self.dense_layers - set(shapes)
        if unknown:
            raise ValueError(f"dense_layers {sorted(unknown)} are not layers of the group {sorted(shapes)}")
        for k, shp in shapes.items():
            if len(shp) < 2 or any(int(v) <= 0 for v in shp):
                raise ValueError(f"shape of layer {k!r} must have >= 2 positive dims, got {tuple(shp)}")
        return _check_sparsity(sparsity)


class Uniform(SparsityDistribution):
    """Eq. (2): ``s_l = S`` for every layer (``dense_layers`` stay dense and are *not* compensated)."""

    name = "uniform"

    def densities(self, shapes: Mapping[str, Shape], sparsity: float) -> dict[str, float]:
        s = self._validate(shapes, sparsity)
        return {k: 1.0 if k in self.dense_layers else 1.0 - s for k in shapes}


class ErdosRenyi(SparsityDistribution):
    """ER / ERK allocation, eqs. (3)-(5), solved jointly over all layers of the group (§1.3 budget scope).

    ``r_l = (Σ dims)/(Π dims)`` (eq. (5); for a Linear ``(n_in + n_out)/(n_in·n_out)``, eq. (3)), optionally
    raised to ``power`` (rigl ``erk_power_scale``). ``d_l = ε·r_l`` with ε from eq. (4); layers whose
    ``ε·r_l`` would exceed 1 are moved to the dense set D one at a time (largest ``r_l`` first) and ε is
    re-solved. For 2-D weights ER and ERK coincide.
    """

    name = "er"

    def __init__(self, dense_layers: Iterable[str] = (), power: float = 1.0) -> None:
        super().__init__(dense_layers)
        if not power > 0:
            raise ValueError(f"power must be > 0, got {power!r}")
        self.power = float(power)

    def config(self) -> dict[str, object]:  # noqa: D102
        return {**super().config(), "power": self.power}

    def raw_scores(self, shapes: Mapping[str, Shape]) -> dict[str, float]:
        """``r_l`` of eq. (3)/(5) (to the power ``power``)."""
        return {k: (sum(int(v) for v in shp) / _numel(shp)) ** self.power for k, shp in shapes.items()}

    def densities(self, shapes: Mapping[str, Shape], sparsity: float) -> dict[str, float]:
        s = self._validate(shapes, sparsity)
        n = {k: _numel(shp) for k, shp in shapes.items()}
        r = self.raw_scores(shapes)
        total = sum(n.values())
        dense = set(self.dense_layers)
        while True:
            free = [k for k in shapes if k not in dense]
            budget = (1.0 - s) * total - sum(n[k] for k in dense)
            if not free:
                break
            if budget <= 0:
                raise ValueError(
                    f"sparsity {s} leaves no budget after the dense layers {sorted(dense)}; lower the sparsity"
                )
            eps = budget / sum(r[k] * n[k] for k in free)
            top = max(free, key=lambda k: r[k])
            if eps * r[top] > 1.0:
                dense.add(top)  # eq. (4): move the argmax layer to D and re-solve
                continue
            return {k: 1.0 if k in dense else eps * r[k] for k in shapes}
        return {k: 1.0 for k in shapes}


class ErdosRenyiKernel(ErdosRenyi):
    """ERK, eq. (5): identical to :class:`ErdosRenyi` but named ``"erk"`` (kernel dims enter ``r_l``)."""

    name = "erk"


DISTRIBUTIONS: dict[str, type[SparsityDistribution]] = {
    "uniform": Uniform,
    "er": ErdosRenyi,
    "erk": ErdosRenyiKernel,
}


def make_distribution(spec: str | SparsityDistribution, **kwargs: object) -> SparsityDistribution:
    """Registry look-up: ``"uniform" | "er" | "erk"`` (kwargs go to the constructor) or pass an instance."""
    if isinstance(spec, SparsityDistribution):
        return spec
    try:
        cls = DISTRIBUTIONS[str(spec).lower()]
    except KeyError:
        raise ValueError(f"distribution must be one of {', '.join(DISTRIBUTIONS)}, got {spec!r}") from None
    return cls(**kwargs)  # type: ignore[arg-type]


def nnz_per_layer(shapes: Mapping[str, Shape], densities: Mapping[str, float]) -> dict[str, int]:
    """Eq. (6): ``nnz_l = round(d_l·N_l)``, clipped to ``[0, N_l]``."""
    out = {}
    for k, shp in shapes.items():
        n = _numel(shp)
        out[k] = int(min(n, max(0, round(float(densities[k]) * n))))
    return out
