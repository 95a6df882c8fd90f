"""The stated regret bounds, as SHAPES (absolute constants and log factors dropped unless asked for).

All functions take (d, H, K[, alpha]) with T = K H and per-step rewards in [0, 1] (spec §1 conventions);
K may be an array. ``log_power=p`` multiplies the shape by ``log(d H K)^p`` (the O~ hides such factors;
spec eq. (31) explains how they bend local slopes).

| function                   | statement (spec)                                                  |
|----------------------------|-------------------------------------------------------------------|
| :func:`lsvi_ucb`           | O~(sqrt(d^3 H^3 T)) = O~(d^{3/2} H^2 sqrt(K))        §3, Jin et al.|
| :func:`lsvi_ucb_plus`      | O~(H d sqrt(T)) = O~(d H^{3/2} sqrt(K))              §4.1, Hu et al.|
| :func:`lsvi_ucb_pp`        | O~(d sqrt(H^3 K)) = O~(H d sqrt(T))                  §4.2, He et al.|
| :func:`linear_lower`       | Omega(d H sqrt(T))                                   §2.3, Zhou et al.|
| :func:`icvar_l_upper`      | O~(sqrt(alpha^{-(H+1)} (d^2 H^4 + d H^6) K))        §5.2, Chen et al.|
| :func:`icvar_lower`        | Omega(sqrt(alpha^{-(H-1)} d^2 K))                    §5.2, Chen et al.|
| :func:`icvar_g_upper`      | O~(sqrt(alpha^{-(H+1)} D H^4 K))                     §5.2, Chen et al.|

``BOUND_OF`` maps algorithm names to their bound shape; ``EXPONENTS`` gives the exponents of d, H and
K in each shape (for the d- and H-sweeps of spec §6, which compare fitted exponents with these).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["lsvi_ucb", "lsvi_ucb_plus", "lsvi_ucb_pp", "linear_lower", "icvar_l_upper", "icvar_lower",
           "icvar_g_upper", "BOUND_OF", "EXPONENTS", "bound_shape", "icvar_alpha_exponents"]

ArrayLike = float | np.ndarray


def _check(d: float, H: float, K: ArrayLike, alpha: float = 1.0) -> None:
    if not d >= 1:
        raise ValueError(f"d must be >= 1, got {d!r}")
    if not H >= 1:
        raise ValueError(f"H must be >= 1, got {H!r}")
    if np.any(np.asarray(K) <= 0):
        raise ValueError("K must be positive")
    if not 0.0 < alpha <= 1.0:
        raise ValueError(f"alpha must be in (0, 1], got {alpha!r}")


def _logs(d: float, H: float, K: ArrayLike, log_power: float) -> ArrayLike:
    if log_power == 0:
        return 1.0
    return np.log(np.maximum(d * H * np.asarray(K, dtype=float), np.e)) ** log_power


def lsvi_ucb(d: float, H: float, K: ArrayLike, alpha: float = 1.0, log_power: float = 0.0) -> ArrayLike:
    """sqrt(d^3 H^3 T), T = K H (Jin et al. 2020, spec §3; the log factor iota is dropped)."""
    _check(d, H, K, alpha)
    T = np.asarray(K, dtype=float) * H
    return np.sqrt(d**3 * H**3 * T) * _logs(d, H, K, log_power)


def lsvi_ucb_plus(d: float, H: float, K: ArrayLike, alpha: float = 1.0, log_power: float = 0.0) -> ArrayLike:
    """H d sqrt(T), T = K H (Hu et al. 2022, spec §4.1)."""
    _check(d, H, K, alpha)
    T = np.asarray(K, dtype=float) * H
    return H * d * np.sqrt(T) * _logs(d, H, K, log_power)


def lsvi_ucb_pp(d: float, H: float, K: ArrayLike, alpha: float = 1.0, log_power: float = 0.0) -> ArrayLike:
    """d sqrt(H^3 K) = H d sqrt(T) (He et al. 2023, spec §4.2)."""
    _check(d, H, K, alpha)
    return d * np.sqrt(H**3 * np.asarray(K, dtype=float)) * _logs(d, H, K, log_power)


def linear_lower(d: float, H: float, K: ArrayLike, alpha: float = 1.0) -> ArrayLike:
    """Lower-bound shape d H sqrt(T) (Zhou, Gu, Szepesvari 2021 via spec §2.3)."""
    _check(d, H, K, alpha)
    return d * H * np.sqrt(np.asarray(K, dtype=float) * H)


def icvar_l_upper(d: float, H: float, K: ArrayLike, alpha: float = 1.0, log_power: float = 0.0) -> ArrayLike:
    """sqrt(alpha^{-(H+1)} (d^2 H^4 + d H^6) K) (ICVaR-L, Chen et al. 2024, spec §5.2)."""
    _check(d, H, K, alpha)
    return (np.sqrt(alpha ** (-(H + 1)) * (d**2 * H**4 + d * H**6) * np.asarray(K, dtype=float))
            * _logs(d, H, K, log_power))


def icvar_lower(d: float, H: float, K: ArrayLike, alpha: float = 1.0) -> ArrayLike:
    """sqrt(alpha^{-(H-1)} d^2 K) (the iterated-CVaR lower bound, Chen et al. 2024, spec §5.2)."""
    _check(d, H, K, alpha)
    return np.sqrt(alpha ** (-(H - 1)) * d**2 * np.asarray(K, dtype=float))


def icvar_g_upper(D: float, H: float, K: ArrayLike, alpha: float = 1.0, log_power: float = 0.0) -> ArrayLike:
    """sqrt(alpha^{-(H+1)} D H^4 K) (ICVaR-G; D from the eluder dimension and covering number, §5.2)."""
    _check(D, H, K, alpha)
    return np.sqrt(alpha ** (-(H + 1)) * D * H**4 * np.asarray(K, dtype=float)) * _logs(D, H, K, log_power)


#: algorithm name -> bound shape (spec §6 (P2)); other names fall back to the linear lower-bound shape
BOUND_OF: dict[str, Callable[..., ArrayLike]] = {
    "lsvi-ucb": lsvi_ucb,
    "lsvi-ucb-rs": lsvi_ucb,
    "lsvi-ucb-plus": lsvi_ucb_plus,
    "lsvi-ucb-pp": lsvi_ucb_pp,
    "icvar-l": icvar_l_upper,
    "icvar-g": icvar_l_upper,
}

#: exponents of (d, H, K) in each shape, for the scaling checks of spec §6
EXPONENTS: dict[str, dict[str, float]] = {
    "lsvi-ucb": {"d": 1.5, "H": 2.0, "K": 0.5},
    "lsvi-ucb-rs": {"d": 1.5, "H": 2.0, "K": 0.5},
    "lsvi-ucb-plus": {"d": 1.0, "H": 1.5, "K": 0.5},
    "lsvi-ucb-pp": {"d": 1.0, "H": 1.5, "K": 0.5},
    "lower": {"d": 1.0, "H": 1.5, "K": 0.5},
}

BOUND_NAME: dict[str, str] = {
    "lsvi-ucb": "sqrt(d^3 H^3 T)",
    "lsvi-ucb-rs": "sqrt(d^3 H^3 T)",
    "lsvi-ucb-plus": "H d sqrt(T)",
    "lsvi-ucb-pp": "H d sqrt(T)",
    "icvar-l": "sqrt(alpha^-(H+1) (d^2H^4 + dH^6) K)",
    "icvar-g": "sqrt(alpha^-(H+1) (d^2H^4 + dH^6) K)",
}


def bound_shape(algo: str, d: float, H: float, K: ArrayLike, alpha: float = 1.0) -> ArrayLike:
    """The bound shape of ``algo`` (fallback: the lower-bound shape d H sqrt(T))."""
    fn = BOUND_OF.get(algo, linear_lower)
    return fn(d, H, K, alpha)


def icvar_alpha_exponents(H: int) -> dict[str, float]:
    """Exponents of 1/alpha in the ICVaR shapes: (H+1)/2 (upper, ICVaR-L) and (H-1)/2 (lower), spec §6."""
    return {"upper": (H + 1) / 2.0, "lower": (H - 1) / 2.0}
