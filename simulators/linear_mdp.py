"""The episodic, inhomogeneous linear MDP with finite S and A (spec §1, eq. (1)).

A :class:`LinearMDP` holds the model as arrays, the way users read it:

- ``phi``  (S, A, d): features φ(s, a), with ||φ(s, a)||₂ ≤ 1;
- ``P``    (H, S, A, S): P_h(s' | s, a), rows non-negative and summing to 1;
- ``R``    (H, S, A): mean rewards r_h(s, a) ∈ [0, 1];
- ``init`` (S,): the initial-state distribution ρ₀ (a start state s_1 is the one-hot ρ₀);
- ``mu``   (H, S, d) and ``theta`` (H, d) when the model was built from its factors, so that
  P_h = phi @ mu[h].T and R_h = phi @ theta[h] (eq. (1)); ``None`` otherwise (e.g. a misspecified
  instance whose kernel is *not* linear in φ).

``h`` is 0-based in code (h = 0..H-1) and 1-based in the spec. Construction validates everything and
raises ``ValueError`` naming the offending field; the arrays are stored as read-only float64 copies so
that no learner can change the model it is evaluated on.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

#: tolerance on the row sums of P and on the sum of ``init`` (issue 3: "within 1e-9")
ROW_SUM_TOL = 1e-9
#: tolerance on feature norms, reward range and factor consistency
VALUE_TOL = 1e-9

_NPZ_VERSION = 1


def _as_float_array(x: Any, field: str, ndim: int) -> np.ndarray:
    try:
        arr = np.array(x, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{field} must be a numeric array, got {type(x).__name__}") from None
    if arr.ndim != ndim:
        raise ValueError(f"{field} must have {ndim} dimensions, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{field} must not be empty, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{field} contains NaN or infinite entries")
    return arr


def _readonly(arr: np.ndarray) -> np.ndarray:
    arr = np.ascontiguousarray(arr, dtype=np.float64)
    arr.setflags(write=False)
    return arr


def _check_distribution_rows(arr: np.ndarray, field: str) -> None:
    """Rows along the last axis are non-negative and sum to 1 within ROW_SUM_TOL."""
    if np.any(arr < 0.0):
        idx = tuple(int(i) for i in np.argwhere(arr < 0.0)[0])
        raise ValueError(f"{field} has a negative probability {arr[idx]:.3g} at index {idx}")
    sums = arr.sum(axis=-1)
    err = np.abs(sums - 1.0)
    if np.any(err > ROW_SUM_TOL):
        idx = tuple(int(i) for i in np.argwhere(err > ROW_SUM_TOL)[0])
        raise ValueError(
            f"{field} rows must sum to 1 within {ROW_SUM_TOL:g}; the row at index {idx} sums to {float(sums[idx]):.12g}"
        )


def clean_kernel(P: np.ndarray, tol: float = 1e-9) -> np.ndarray:
    """Clip round-off negatives (>= -tol) to 0 and renormalise rows to sum to 1 (spec §2, first bullet).

    Entries below ``-tol`` are left alone so that validation still reports a genuinely invalid kernel.
    """
    P = np.array(P, dtype=np.float64)
    small = (P < 0.0) & (P >= -tol)
    P[small] = 0.0
    sums = P.sum(axis=-1, keepdims=True)
    ok = np.abs(sums - 1.0) <= 1e-6
    P = np.where(ok, P / np.where(sums == 0.0, 1.0, sums), P)
    return P


class LinearMDP:
    """An episodic inhomogeneous linear MDP with finite S, A (spec §1, eq. (1)).

    Parameters
    ----------
    phi : (S, A, d) features, ||φ(s,a)||₂ ≤ 1.
    P : (H, S, A, S) transition kernel.
    R : (H, S, A) mean rewards in [0, 1].
    init : (S,) initial distribution, or an int start state s_1.
    name : the instance's name.
    params : the parameters that rebuild it (JSON-serialisable), stored in ``.npz`` files.
    mu, theta : optional factors, (H, S, d) and (H, d); if given, ``P`` and ``R`` must equal
        ``phi @ mu[h].T`` and ``phi @ theta[h]`` within 1e-9.
    bernoulli_rewards : sampled rewards are Bernoulli(R) instead of R (regret always uses R).
    """

    def __init__(
        self,
        phi: Any,
        P: Any,
        R: Any,
        init: Any,
        name: str = "custom",
        params: dict[str, Any] | None = None,
        *,
        mu: Any = None,
        theta: Any = None,
        bernoulli_rewards: bool = False,
    ) -> None:
        phi = _as_float_array(phi, "phi", 3)
        P = _as_float_array(P, "P", 4)
        R = _as_float_array(R, "R", 3)
        S, A, d = phi.shape
        H = P.shape[0]
        if P.shape != (H, S, A, S):
            raise ValueError(f"P must have shape (H, S, A, S) = (H, {S}, {A}, {S}) to match phi, got {P.shape}")
        if R.shape != (H, S, A):
            raise ValueError(f"R must have shape (H, S, A) = ({H}, {S}, {A}), got {R.shape}")
        norms = np.linalg.norm(phi, axis=-1)
        if np.any(norms > 1.0 + VALUE_TOL):
            idx = tuple(int(i) for i in np.argwhere(norms > 1.0 + VALUE_TOL)[0])
            raise ValueError(f"phi must have ||phi(s,a)|| <= 1; (s,a)={idx} has norm {norms[idx]:.6g}")
        _check_distribution_rows(P, "P")
        if np.any(R < -VALUE_TOL) or np.any(R > 1.0 + VALUE_TOL):
            raise ValueError(f"R must lie in [0, 1], got range [{R.min():.6g}, {R.max():.6g}]")
        R = np.clip(R, 0.0, 1.0)

        if isinstance(init, (int, np.integer)) and not isinstance(init, bool):
            if not 0 <= int(init) < S:
                raise ValueError(f"init as a start state must be in [0, {S}), got {init}")
            init_arr = np.zeros(S)
            init_arr[int(init)] = 1.0
        else:
            init_arr = _as_float_array(init, "init", 1)
            if init_arr.shape != (S,):
                raise ValueError(f"init must have shape (S,) = ({S},), got {init_arr.shape}")
            _check_distribution_rows(init_arr, "init")

        if (mu is None) != (theta is None):
            raise ValueError("mu and theta must be given together (or neither)")
        if mu is not None:
            mu = _as_float_array(mu, "mu", 3)
            theta = _as_float_array(theta, "theta", 2)
            if mu.shape != (H, S, d):
                raise ValueError(f"mu must have shape (H, S, d) = ({H}, {S}, {d}), got {mu.shape}")
            if theta.shape != (H, d):
                raise ValueError(f"theta must have shape (H, d) = ({H}, {d}), got {theta.shape}")
            P_lin = np.einsum("sad,htd->hsat", phi, mu)
            err = float(np.max(np.abs(P_lin - P)))
            if err > VALUE_TOL:
                raise ValueError(f"mu is inconsistent with P: max |phi @ mu[h].T - P_h| = {err:.3g} > 1e-9")
            R_lin = np.einsum("sad,hd->hsa", phi, theta)
            err = float(np.max(np.abs(R_lin - R)))
            if err > VALUE_TOL:
                raise ValueError(f"theta is inconsistent with R: max |phi @ theta[h] - R_h| = {err:.3g} > 1e-9")
        if not isinstance(name, str) or not name:
            raise ValueError(f"name must be a non-empty string, got {name!r}")
        params = dict(params or {})
        try:
            json.dumps(params)
        except TypeError as exc:
            raise ValueError(f"params must be JSON-serialisable: {exc}") from None

        self.phi = _readonly(phi)
        self.P = _readonly(P)
        self.R = _readonly(R)
        self.init = _readonly(init_arr)
        self.mu = None if mu is None else _readonly(mu)
        self.theta = None if theta is None else _readonly(theta)
        self.name = name
        self.params = params
        self.bernoulli_rewards = bool(bernoulli_rewards)
        self._P_cum: np.ndarray | None = None
        self._factors_exact: bool | None = None

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_factors(
        cls,
        phi: Any,
        mu: Any,
        theta: Any,
        init: Any,
        name: str = "custom",
        params: dict[str, Any] | None = None,
        *,
        bernoulli_rewards: bool = False,
    ) -> LinearMDP:
        """Build P_h = phi @ mu[h].T and R_h = phi @ theta[h] (eq. (1)).

        Round-off negatives (≥ -1e-9) are clipped and rows renormalised (spec §2); the stored ``mu`` is
        kept as given, so ``phi @ mu[h].T`` equals ``P`` within 1e-9.
        """
        phi = _as_float_array(phi, "phi", 3)
        mu = _as_float_array(mu, "mu", 3)
        theta = _as_float_array(theta, "theta", 2)
        if mu.shape[2] != phi.shape[2]:
            raise ValueError(f"mu must have d = {phi.shape[2]} columns like phi, got shape {mu.shape}")
        if theta.shape != (mu.shape[0], phi.shape[2]):
            raise ValueError(f"theta must have shape (H, d) = ({mu.shape[0]}, {phi.shape[2]}), got {theta.shape}")
        P = clean_kernel(np.einsum("sad,htd->hsat", phi, mu))
        R = np.einsum("sad,hd->hsa", phi, theta)
        R = np.where((R < 0.0) & (R >= -VALUE_TOL), 0.0, R)
        R = np.where((R > 1.0) & (R <= 1.0 + VALUE_TOL), 1.0, R)
        return cls(phi, P, R, init, name=name, params=params, mu=mu, theta=theta, bernoulli_rewards=bernoulli_rewards)

    # ------------------------------------------------------------------ shapes
    @property
    def H(self) -> int:  # noqa: N802 - the spec's symbol
        """Horizon."""
        return int(self.P.shape[0])

    @property
    def S(self) -> int:  # noqa: N802
        """Number of states."""
        return int(self.phi.shape[0])

    @property
    def A(self) -> int:  # noqa: N802
        """Number of actions."""
        return int(self.phi.shape[1])

    @property
    def d(self) -> int:
        """Feature dimension."""
        return int(self.phi.shape[2])

    @property
    def is_linear(self) -> bool:
        """True when the factors (mu, theta) are known, i.e. eq. (1) holds exactly."""
        return self.mu is not None

    @property
    def factors_exact(self) -> bool:
        """True when the factors are known and phi @ mu[h].T equals P to 1e-12 (and phi @ theta[h] equals R),
        so that [P_h V](s,a) = φ(s,a)ᵀ(μ_hᵀV) (spec eq. (5)) can replace the S-sum in the DP."""
        if self._factors_exact is None:
            if self.mu is None:
                self._factors_exact = False
            else:
                P_lin = np.einsum("sad,htd->hsat", self.phi, self.mu)
                R_lin = np.einsum("sad,hd->hsa", self.phi, self.theta)
                self._factors_exact = bool(
                    np.max(np.abs(P_lin - self.P)) <= 1e-12 and np.max(np.abs(R_lin - self.R)) <= 1e-12
                )
        return self._factors_exact

    @property
    def P_cum(self) -> np.ndarray:  # noqa: N802
        """Cumulative sums of P over s' (H, S, A, S), last entry forced to 1: for inverse-CDF sampling."""
        if self._P_cum is None:
            c = np.cumsum(self.P, axis=-1)
            c[..., -1] = 1.0
            self._P_cum = _readonly(c)
        return self._P_cum

    def linearity_residual(self) -> float:
        """Max over h of the least-squares residual of P_h (as an SA×S matrix) on the span of phi.

        0 (up to round-off) for a linear MDP; positive for a misspecified one (spec §2, "Misspecified").
        """
        Phi = self.phi.reshape(self.S * self.A, self.d)
        worst = 0.0
        for h in range(self.H):
            Ph = self.P[h].reshape(self.S * self.A, self.S)
            coef, *_ = np.linalg.lstsq(Phi, Ph, rcond=None)
            worst = max(worst, float(np.max(np.abs(Phi @ coef - Ph))))
        return worst

    def __repr__(self) -> str:
        return f"LinearMDP(name={self.name!r}, S={self.S}, A={self.A}, d={self.d}, H={self.H}, params={self.params!r})"

    # ------------------------------------------------------------------ io
    def save(self, path: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
        """Write the instance to ``path`` (.npz): phi, P, R, init, name, params (+ mu, theta if known).

        Refuses to overwrite an existing file unless ``overwrite=True`` (runs never overwrite results).
        """
        p = Path(path)
        if p.suffix != ".npz":
            raise ValueError(f"path must end in .npz, got {str(p)!r}")
        if p.exists() and not overwrite:
            raise ValueError(f"path {str(p)!r} already exists; choose a new file (runs never overwrite)")
        p.parent.mkdir(parents=True, exist_ok=True)
        arrays: dict[str, np.ndarray] = {
            "phi": np.asarray(self.phi),
            "P": np.asarray(self.P),
            "R": np.asarray(self.R),
            "init": np.asarray(self.init),
            "name": np.array(self.name),
            "params": np.array(json.dumps(self.params)),
            "bernoulli_rewards": np.array(self.bernoulli_rewards),
            "version": np.array(_NPZ_VERSION),
        }
        if self.mu is not None:
            arrays["mu"] = np.asarray(self.mu)
            arrays["theta"] = np.asarray(self.theta)
        tmp = p.with_name(f".{p.stem}.tmp.npz")
        np.savez_compressed(tmp, **arrays)
        os.replace(tmp, p)
        return p

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> LinearMDP:
        """Read an instance written by :meth:`save`; validates like construction."""
        p = Path(path)
        if not p.exists():
            raise FileNotFoundError(f"no such instance file: {str(p)!r}")
        try:
            z = np.load(p, allow_pickle=False)
        except Exception as exc:  # noqa: BLE001 - any unreadable file is a bad --load argument
            raise ValueError(f"path {str(p)!r} is not a readable .npz file: {exc}") from None
        with z:
            missing = [k for k in ("phi", "P", "R", "init") if k not in z.files]
            if missing:
                raise ValueError(f"instance file {str(p)!r} lacks the arrays {', '.join(missing)}")
            name = str(z["name"]) if "name" in z.files else "custom"
            params = json.loads(str(z["params"])) if "params" in z.files else {}
            bern = bool(z["bernoulli_rewards"]) if "bernoulli_rewards" in z.files else False
            mu = z["mu"] if "mu" in z.files else None
            theta = z["theta"] if "theta" in z.files else None
            return cls(
                z["phi"],
                z["P"],
                z["R"],
                z["init"],
                name=name,
                params=params,
                mu=mu,
                theta=theta,
                bernoulli_rewards=bern,
            )
