"""ICVaR-L: iterated-CVaR RL with linear function approximation (spec §5.3, eq. 21-27).

Design after Chen et al. 2024; not a transcription. The paper's algorithm box, features and radius are
not available to us (spec §5.2); this is the library's design, consistent with the abstract and tested
against the exact iterated-CVaR DP of ``simulators.dp``.

Under a linear MDP the iterated-CVaR Q* is not linear in phi, but the CDF of the next value at any fixed
threshold u is (eq. 21). So at every step h, with the SAME Gram matrix Lambda_h of eq. (8):

    W_hat_h = Lambda_h^-1 sum_tau phi_h^tau y_tau^T,   y_tau[j] = 1{V_hat_{h+1}(s_{h+1}^tau) <= u_j}     (23)
    F-_j(s,a) = [phi^T W_hat_h[:, j] - beta_F ||phi||_{Lambda_h^-1}]_[0,1],  running max over j        (24)
    C_hat_h(s,a) = max_j { u_j - alpha^-1 sum_{i<j} (u_{i+1} - u_i) F-_i(s,a) }                        (25)
    Q_hat_h(s,a) = min{ r_h(s,a) + C_hat_h(s,a), H - h + 1 },   V_hat_h = max_a Q_hat_h                (26)

The level-set targets y are our reading of "CVaR-adapted features"; the grid operator (25) and its error
bound (27) live in :mod:`provable.cvar_approx`. The reward is known (spec §9 #3).

Two code paths compute the same numbers (tested equal to 1e-9):

* ``path="fast"`` (finite S, spec §5.3 "Fast path"): mu_hat_h = Lambda_h^-1 M_h with M_h the next-state
  aggregate of eq. (35); p_hat(s,a) = phi^T mu_hat_h; cumulative sums of p_hat in V_hat_{h+1}-sorted
  order give phi^T W_hat at every grid point with no explicit Y. O(S^2 |A| d) per h, flat in k.
* ``path="plain"``: every transition stored; eq. (23) is formed literally from the level-set targets of
  all past transitions, O(k d J) per h (the cost grows with k).

Refinement [ours], applied on both paths: F(u) = 1 exactly for every u >= max_s' V_hat_{h+1}(s') (the
next value cannot exceed its maximum over the finite state space), so F-_j is set to 1 there. This only
raises F- towards F, so the optimism argument of eq. (27) is untouched, and it makes C_hat <= max V_hat_{h+1}
(without it the ridge shrinkage of phi^T mu_hat 1 < 1 would put mass at u_J = H).

Ablation ``bonus_form="additive"``: C_hat = CVaR_alpha^{Pi(p_hat)}(V_hat_{h+1}) + (2H/alpha) beta_F ||phi||,
Pi the Euclidean projection of each row of p_hat onto the simplex (fast path data).

Constants (spec §5.3 "Defaults", §9 #9): lambda = 1, beta_F = c_F d sqrt(iota + log(J+1)) with
iota = log(2 d T / p), T = K H, c_F = ``bonus_scale`` (1 = theory); J+1 is the grid size (S+2 for the
exact-support grid, a bound on its size). Grid: ``grid="support"`` (exact; default) or ``"uniform"``
with spacing ``eps`` (default H / K, so the grid costs at most H of total regret).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from provable.agents.base import Agent, check_risk_hyper
from provable.cvar_approx import (
    grid_cvar,
    lower_cdf,
    optimistic_kernel,
    uniform_grid,
)
from provable.ridge import NextStateAggregate, TransitionLog, WeightedRidge
from simulators.risk import cvar

__all__ = ["ICVaRL", "project_rows_to_simplex", "icvar_l_beta_F"]

_PATHS = ("fast", "plain")
_GRIDS = ("support", "uniform")
_BONUS_FORMS = ("optimistic", "additive")


def icvar_l_beta_F(d: int, H: int, K: int, delta: float, grid_size: int, bonus_scale: float = 1.0) -> float:
    """beta_F = c_F d sqrt(iota + log(J+1)), iota = log(2 d T / p), T = K H (spec §5.3, §9 #9)."""
    iota = math.log(2.0 * d * K * H / delta)
    return float(bonus_scale) * d * math.sqrt(iota + math.log(grid_size))


@njit(cache=True)
def _project_rows(P: np.ndarray) -> np.ndarray:
    """Euclidean projection of every row onto the probability simplex (sort-based, O(S log S) per row)."""
    n, S = P.shape
    out = np.empty_like(P)
    for r in range(n):
        u = np.sort(P[r])[::-1]
        css = 0.0
        theta = 0.0
        for j in range(S):
            css += u[j]
            t = (css - 1.0) / (j + 1)
            if u[j] - t > 0.0:
                theta = t
        for j in range(S):
            v = P[r, j] - theta
            out[r, j] = v if v > 0.0 else 0.0
    return out


def project_rows_to_simplex(P: np.ndarray) -> np.ndarray:
    """Pi of the additive ablation: each row of a (N, S) signed array projected onto the simplex."""
    P = np.ascontiguousarray(P, dtype=np.float64)
    if P.ndim != 2:
        raise ValueError(f"P must be a 2-D array of rows, got shape {P.shape}")
    out = _project_rows(P)
    return out / out.sum(axis=1, keepdims=True)


class ICVaRL(Agent):
    """ICVaR-L (spec §5.3). Design after Chen et al. 2024; not a transcription.

    Parameters
    ----------
    phi, H, reward, seed:
        the known parts of the MDP (``reward`` (H, S, A) is required: known rewards, spec §9 #3).
    alpha:
        risk level in (0, 1]; 1 is risk-neutral (then ICVaR-L is an optimistic LSVI with target
        int (1 - F) = E[V], spec §5.3 "Sanity checks").
    K:
        number of episodes planned (enters iota = log(2dKH/p) and the default eps = H/K).
    p:
        failure probability p in iota.
    bonus_scale:
        c_F in beta_F (1 = theory constants; smaller values for practical runs).
    beta_F:
        override beta_F directly (e.g. 0 for the exact-support identity test); default from the theory.
    lam:
        ridge parameter lambda (1).
    grid:
        ``"support"`` (sorted distinct values of V_hat_{h+1} plus 0 and H: exact) or ``"uniform"``.
    eps:
        spacing of the uniform grid (default H / K).
    path:
        ``"fast"`` (next-state aggregation, eq. 35) or ``"plain"`` (explicit level-set targets, eq. 23).
    bonus_form:
        ``"optimistic"`` (eq. 24-25) or ``"additive"`` (ablation).
    """

    name = "icvar-l"
    needs_reward = True

    def __init__(
        self,
        phi: np.ndarray,
        H: int,
        *,
        reward: np.ndarray | None = None,
        seed: int = 0,
        alpha: float = 1.0,
        K: int = 1000,
        p: float = 0.05,
        bonus_scale: float = 1.0,
        beta_F: float | None = None,
        lam: float = 1.0,
        grid: str = "support",
        eps: float | None = None,
        path: str = "fast",
        bonus_form: str = "optimistic",
    ) -> None:
        super().__init__(phi, H, reward=reward, seed=seed)
        alpha, K, p, bonus_scale = check_risk_hyper(alpha, K, p, bonus_scale)
        if beta_F is not None and not (float(beta_F) >= 0.0 and math.isfinite(float(beta_F))):
            raise ValueError(f"beta_F must be a finite number >= 0, got {beta_F!r}")
        if not (float(lam) > 0.0 and math.isfinite(float(lam))):
            raise ValueError(f"lam must be a positive finite number, got {lam!r}")
        if grid not in _GRIDS:
            raise ValueError(f"grid must be one of {', '.join(_GRIDS)}, got {grid!r}")
        if path not in _PATHS:
            raise ValueError(f"path must be one of {', '.join(_PATHS)}, got {path!r}")
        if bonus_form not in _BONUS_FORMS:
            raise ValueError(f"bonus_form must be one of {', '.join(_BONUS_FORMS)}, got {bonus_form!r}")
        if eps is not None and not (float(eps) > 0.0 and math.isfinite(float(eps))):
            raise ValueError(f"eps must be a positive finite number, got {eps!r}")
        self.alpha = alpha
        self.K = int(K)
        self.p = float(p)
        self.bonus_scale = float(bonus_scale)
        self.lam = float(lam)
        self.grid_kind = grid
        self.eps = float(eps) if eps is not None else self.H / self.K
        self.path = path
        self.bonus_form = bonus_form
        self._uniform = uniform_grid(self.H, self.eps) if grid == "uniform" else None
        grid_size = self.S + 2 if grid == "support" else len(self._uniform)  # type: ignore[arg-type]
        self.beta_F = (
            float(beta_F)
            if beta_F is not None
            else icvar_l_beta_F(self.d, self.H, self.K, self.p, grid_size, self.bonus_scale)
        )
        self._phi_flat = np.ascontiguousarray(self.phi.reshape(self.S * self.A, self.d))
        self.ridge = [WeightedRidge(self.d, self.lam) for _ in range(self.H)]
        self.agg = [NextStateAggregate(self.d, self.S) for _ in range(self.H)] if path == "fast" else None
        self.log = [TransitionLog(self.d, self.A) for _ in range(self.H)] if path == "plain" else None
        self._next_states: list[list[int]] = [[] for _ in range(self.H)]
        self._dirty = True
        self.Q = np.zeros((self.H, self.S, self.A))
        self.V = np.zeros((self.H + 1, self.S))

    # ---- planning ------------------------------------------------------------------------------
    def _grid(self, V_next: np.ndarray, order: np.ndarray) -> np.ndarray:
        """The threshold grid of step h: uniform, or the exact support of V_hat_{h+1} plus 0 and H."""
        if self._uniform is not None:
            return self._uniform
        v = V_next[order]  # V_hat_{h+1} lies in [0, H-h-1] by the clip of eq. (26)
        keep = np.empty(v.size, dtype=bool)
        keep[0] = True
        keep[1:] = v[1:] != v[:-1]
        inner = v[keep]
        return np.concatenate(([0.0], inner[(inner > 0.0) & (inner < self.H)], [float(self.H)]))

    def _level_set_rhs(self, h: int, V_next: np.ndarray, grid: np.ndarray) -> np.ndarray:
        """Plain path of eq. (23): sum_tau phi_tau y_tau^T with y_tau[j] = 1{V(s'_tau) <= u_j}, (d, J+1)."""
        assert self.log is not None
        nxt = np.asarray(self._next_states[h], dtype=np.int64)
        Y = (V_next[nxt][:, None] <= grid[None, :]).astype(np.float64)
        return self.log[h].targets(Y)

    def optimistic_cvar(self, h: int, V_next: np.ndarray) -> np.ndarray:
        """C_hat_h(s, a) for all (s, a), shape (S, A) (eq. 23-25, or the additive ablation)."""
        ridge = self.ridge[h]
        width = self.beta_F * ridge.norms(self._phi_flat)  # beta_F ||phi||_{Lambda_h^-1}
        order = np.argsort(V_next, kind="stable")
        grid = self._grid(V_next, order)
        if self.bonus_form == "additive":
            if self.agg is not None:
                mu_hat = ridge.solve(self.agg[h].M)
            else:  # the plain path's mu_hat: the explicit sum of phi_tau e_{s'_tau}^T
                E = np.zeros((len(self._next_states[h]), self.S))
                E[np.arange(E.shape[0]), self._next_states[h]] = 1.0
                mu_hat = ridge.solve(self.log[h].targets(E))  # type: ignore[index]
            p_proj = project_rows_to_simplex(self._phi_flat @ mu_hat)
            c = np.asarray(cvar(V_next, p_proj, self.alpha)) + (2.0 * self.H / self.alpha) * width
            return c.reshape(self.S, self.A)
        if self.path == "fast":
            assert self.agg is not None
            p_hat = self._phi_flat @ ridge.solve(self.agg[h].M)  # (SA, S) signed, spec §5.3 steps 1-2
            counts = np.searchsorted(V_next[order], grid, side="right")
            c = optimistic_kernel(p_hat, order, counts, grid, width, 1.0 / self.alpha, True)
        else:
            F_hat = self._phi_flat @ ridge.solve(self._level_set_rhs(h, V_next, grid))  # (SA, J+1)
            F_low = lower_cdf(F_hat, width, ones=grid >= V_next.max())  # refinement [ours]: F = 1 there
            c = np.asarray(grid_cvar(F_low, grid, self.alpha))
        return c.reshape(self.S, self.A)

    def plan(self) -> None:
        """Backward pass h = H-1..0 of eq. (26)."""
        self.plan_known_reward(self.optimistic_cvar)
        self._dirty = False

    def policy(self) -> np.ndarray:
        if self._dirty or self._pi is None:
            self.plan()
        assert self._pi is not None
        return self._pi

    # ---- learning ------------------------------------------------------------------------------
    def observe(self, states: np.ndarray, actions: np.ndarray, rewards: np.ndarray) -> None:
        s, a, r = self._check_episode(states, actions, rewards)
        for h in range(self.H):
            x = self.phi[s[h], a[h]]
            self.ridge[h].update(x)
            nxt = int(s[h + 1])
            if self.agg is not None:
                self.agg[h].add(x, nxt, float(r[h]))
            if self.log is not None:
                self.log[h].add(x, 1.0, float(r[h]), self.phi[nxt])
            self._next_states[h].append(nxt)
        self.episode += 1
        self._dirty = True
