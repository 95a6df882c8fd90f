"""Stated bounds (provable.bounds) and the growth checks of spec §6 on curves with known growth."""

from __future__ import annotations

import math

import numpy as np
import pytest

from provable import bounds
from provable.harness import growth


def test_bound_shapes_and_exponents() -> None:
    d, H, K = 5.0, 4.0, 1000.0
    T = K * H
    assert bounds.lsvi_ucb(d, H, K) == pytest.approx(math.sqrt(d**3 * H**3 * T))
    assert bounds.lsvi_ucb_plus(d, H, K) == pytest.approx(H * d * math.sqrt(T))
    assert bounds.lsvi_ucb_pp(d, H, K) == pytest.approx(H * d * math.sqrt(T))
    assert bounds.icvar_l_upper(d, H, K, 0.5) == pytest.approx(
        math.sqrt(0.5 ** -(H + 1) * (d**2 * H**4 + d * H**6) * K))
    assert bounds.icvar_lower(d, H, K, 0.5) == pytest.approx(math.sqrt(0.5 ** -(H - 1) * d**2 * K))
    assert bounds.icvar_l_upper(d, H, K, 1.0) < bounds.icvar_l_upper(d, H, K, 0.1)
    for algo, ex in bounds.EXPONENTS.items():
        fn = bounds.BOUND_OF.get(algo, bounds.linear_lower)
        for var, e in ex.items():
            args = {"d": d, "H": H, "K": K}
            lo = fn(**args)
            args[var] *= 2
            assert math.log2(fn(**args) / lo) == pytest.approx(e), (algo, var)
    assert bounds.icvar_alpha_exponents(5) == {"upper": 3.0, "lower": 2.0}
    with pytest.raises(ValueError, match="alpha"):
        bounds.icvar_l_upper(d, H, K, 0.0)
    with pytest.raises(ValueError, match="d must"):
        bounds.lsvi_ucb(0.5, H, K)


def _curves(fn, n_seeds: int = 10, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:  # type: ignore[no-untyped-def]
    K = 2.0 ** np.arange(6, 14)
    rng = np.random.default_rng(seed)
    return K, np.vstack([fn(K) * rng.lognormal(0, 0.05) for _ in range(n_seeds)])


def test_slope_check_accepts_sqrtK_logK_and_rejects_linear() -> None:
    K, R = _curves(lambda k: 3 * np.sqrt(k) * np.log(k))
    ok = growth.slope_check("x", K, R, d=2, H=2)
    assert ok["holds"] and ok["ci95"][0] - 1e-9 <= ok["slope"] <= ok["ci95"][1] + 1e-9
    assert 0.5 < ok["slope"] < 0.5 + 1 / math.log(K.max()) + 0.05
    K, R = _curves(lambda k: 0.3 * k)
    bad = growth.slope_check("x", K, R, d=2, H=2)
    assert not bad["holds"] and "DOES NOT HOLD" in bad["statement"]
    assert bad["slope"] == pytest.approx(1.0, abs=1e-6)


def test_ratio_check() -> None:
    K, R = _curves(lambda k: 2 * np.sqrt(k))
    B = np.sqrt(K)
    res = growth.ratio_check("x", K, R, B, d=2, H=2, bound_name="sqrt(K)")
    assert res["holds"] and res["band"][0] > 1.5 and res["band"][1] < 2.5
    K, R = _curves(lambda k: k**0.8)
    assert not growth.ratio_check("x", K, R, np.sqrt(K), d=2, H=2, bound_name="sqrt(K)")["holds"]


def test_exponent_check() -> None:
    vals = np.array([3.0, 4.0, 5.0, 6.0])
    R = np.vstack([vals**1.0 * c for c in (1.0, 1.1, 0.9)])
    res = growth.exponent_check("lsvi-ucb-plus", "d", vals, R, theorem=1.0, K=1000)
    assert res["holds"] and res["exponent"] == pytest.approx(1.0, abs=1e-9)
    R = np.vstack([vals**2.0 * c for c in (1.0, 1.1, 0.9)])
    assert not growth.exponent_check("lsvi-ucb-plus", "d", vals, R, theorem=1.0, K=1000)["holds"]


def test_local_slopes_eq_31() -> None:
    K = 2.0 ** np.arange(4, 12)
    s = growth.local_slopes(K, np.sqrt(K) * np.log(K))
    expected = 0.5 + 1 / np.log(K[1:]) * 0  # eq. (31): s = 1/2 + p/ln K (discrete octave version below)
    disc = 0.5 + np.log(np.log(K[1:]) / np.log(K[:-1])) / np.log(2)
    assert np.isnan(s[0])
    np.testing.assert_allclose(s[1:], disc, rtol=1e-12)
    assert np.all(s[1:] > expected)
