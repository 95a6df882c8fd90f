"""Sparsity distributions: ER/ERK against eqs. (3)-(6) and the spec's §1.3 fixtures (to 1e-3)."""

from __future__ import annotations

import math

import pytest

from deeprl.sparse import ErdosRenyi, ErdosRenyiKernel, Uniform, make_distribution, nnz_per_layer


def mlp_shapes(n_in: int, n_out: int, prefix: str = "") -> dict[str, tuple[int, int]]:
    return {f"{prefix}l1": (256, n_in), f"{prefix}l2": (256, 256), f"{prefix}l3": (n_out, 256)}


def twin_shapes(n_in: int) -> dict[str, tuple[int, int]]:
    return {**mlp_shapes(n_in, 1, "q1."), **mlp_shapes(n_in, 1, "q2.")}


# (obs, act): HalfCheetah (17, 6), Hopper (11, 3). Spec §1.3 lists per-layer *sparsities*.
@pytest.mark.parametrize(
    ("shapes", "S", "expected"),
    [
        (mlp_shapes(17, 6), 0.90, [0.552, 0.944, 0.0]),  # HalfCheetah actor
        (twin_shapes(17 + 6), 0.85, [0.371, 0.896, 0.0]),  # HalfCheetah twin critic, per Q
        (mlp_shapes(11, 3), 0.98, [0.874, 0.990, 0.551]),  # Hopper actor
        (twin_shapes(11 + 3), 0.95, [0.690, 0.968, 0.0]),  # Hopper critic
    ],
)
def test_er_matches_spec_fixtures(shapes, S, expected):
    sp = ErdosRenyi()(shapes, S)
    got = list(sp.values())[:3]
    assert got == pytest.approx(expected, abs=1e-3)
    if len(shapes) == 6:  # both Q-nets get the same allocation (joint budget, identical shapes)
        assert list(sp.values())[3:] == pytest.approx(got, abs=1e-12)


def test_er_formula_and_global_budget():
    shapes = {"a": (64, 10), "b": (64, 64), "c": (5, 64), "d": (300, 200)}
    S = 0.8
    dens = ErdosRenyi().densities(shapes, S)
    n = {k: a * b for k, (a, b) in shapes.items()}
    r = {k: (a + b) / (a * b) for k, (a, b) in shapes.items()}
    dense = {k for k, d in dens.items() if d == 1.0}
    eps = ((1 - S) * sum(n.values()) - sum(n[k] for k in dense)) / sum(r[k] * n[k] for k in n if k not in dense)
    for k in shapes:
        if k not in dense:
            assert dens[k] == pytest.approx(eps * r[k], rel=1e-12)  # eq. (3)
            assert dens[k] <= 1.0
    # eq. (4): the global density is exactly 1 - S before rounding
    assert sum(dens[k] * n[k] for k in n) / sum(n.values()) == pytest.approx(1 - S, rel=1e-12)
    # the dense set is the layers with the largest r (only they can overflow)
    if dense:
        assert min(r[k] for k in dense) >= max(r[k] for k in shapes if k not in dense)


def test_erk_equals_er_for_linear_and_power_scale():
    shapes = mlp_shapes(17, 6)
    assert ErdosRenyiKernel().densities(shapes, 0.9) == ErdosRenyi().densities(shapes, 0.9)
    conv = {"c1": (32, 3, 3, 3), "c2": (64, 32, 3, 3), "fc": (10, 1024)}
    d = ErdosRenyiKernel().densities(conv, 0.9)
    r = {k: sum(s) / math.prod(s) for k, s in conv.items()}  # eq. (5)
    ks = [k for k in conv if d[k] < 1]
    assert d[ks[0]] / d[ks[1]] == pytest.approx(r[ks[0]] / r[ks[1]])
    flat = ErdosRenyi(power=0.0001).densities(shapes, 0.9)  # p -> 0: close to uniform
    assert max(flat.values()) - min(flat.values()) < 1e-3


def test_uniform_and_dense_layers_in_budget():
    shapes = mlp_shapes(17, 6)
    assert all(v == pytest.approx(0.7) for v in Uniform()(shapes, 0.7).values())
    d = ErdosRenyi(dense_layers=["l1"]).densities(shapes, 0.9)
    n = {k: a * b for k, (a, b) in shapes.items()}
    assert d["l1"] == 1.0
    assert sum(d[k] * n[k] for k in n) / sum(n.values()) == pytest.approx(0.1)


def test_rounding_eq6_and_errors():
    shapes = {"a": (3, 3), "b": (10, 7)}
    assert nnz_per_layer(shapes, {"a": 0.5, "b": 0.05}) == {"a": round(4.5), "b": round(3.5)}
    with pytest.raises(ValueError, match="sparsity"):
        ErdosRenyi().densities(shapes, 1.0)
    with pytest.raises(ValueError, match="distribution"):
        make_distribution("gaussian")
    with pytest.raises(ValueError, match="dense_layers"):
        ErdosRenyi(dense_layers=["zz"]).densities(shapes, 0.5)
