"""ICVaR-G: iterated-CVaR RL with general function approximation on a finite model class (spec §5.4).

Design after Chen et al. 2024; not a transcription. In the paper ICVaR-G is a guarantee with an abstract
complexity D (eluder dimension and covering number); our finite class makes it runnable and D explicit
(eluder dimension <= M, log covering number = log M). It is not the paper's construction.

Class: P = {P^(1..M)}, inhomogeneous kernels (H, S, A, S) on the known S x A, the truth included. The
generator of spec §5.4 is :func:`perturbation_class`: P^(m)_h = normalise(P_h + rho N^(m)_h) with
N^(m)_h(.|s,a) ~ Dirichlet(1_S), M in {4, 16, 64}, rho = 0.2; the truth is model 0.

Value-targeted regression (Ayoub et al. 2020) on CDF targets, with V_hat^tau_{h+1} the optimistic value in
force during episode tau and u_j the exact-support grid of V_hat^tau_{h+1} (so J+1 <= S+2):

    L_h(m) = sum_{tau<k} sum_j ( F_{P^(m)_h, V_hat^tau_{h+1}}(u_j | s_h^tau, a_h^tau)
                                 - 1{V_hat^tau_{h+1}(s_{h+1}^tau) <= u_j} )^2                      (28)
    P_{k,h} = { m : L_h(m) - min_m' L_h(m') <= beta_G^2 },  beta_G^2 = 2 (J+1) log(2 M H K / delta)   (29)
    Q_hat_h(s,a) = min{ r_h(s,a) + max_{m in P_{k,h}} CVaR_alpha^{P^(m)_h(.|s,a)}(V_hat_{h+1}), H-h+1 } (30)

The width (29) follows Russo & Van Roy (2013) for a finite class with [0,1] targets (constants ours);
``bonus_scale`` multiplies beta_G (1 = theory). CVaR under each model is the exact operator
``simulators.cvar`` (eq. 17). Cost O(|P_{k,h}| S^2 |A|) per h. With P = {truth} the agent computes the
exact iterated-CVaR DP and plays pi* (tested). The reward is known (spec §9 #3).

The model class depends on the true kernel, which an agent never sees, so the agent takes ``models``;
:meth:`ICVaRG.from_mdp` builds the class of spec §5.4 from an MDP and constructs the agent.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from provable.agents.base import Agent, check_risk_hyper
from provable.cvar_approx import cdf_on_grid, support_grid
from simulators.risk import cvar

__all__ = ["ICVaRG", "perturbation_class", "icvar_g_beta_G"]


def perturbation_class(P: np.ndarray, M: int = 16, rho: float = 0.2, seed: int = 0) -> np.ndarray:
    """The finite model class of spec §5.4: (M, H, S, A, S), model 0 is the truth P.

    P^(m)_h = (P_h + rho N^(m)_h) / (1 + rho), N^(m)_h(.|s,a) ~ Dirichlet(1_S), for m = 1..M-1.
    """
    P = np.asarray(P, dtype=np.float64)
    if P.ndim != 4 or P.shape[1] != P.shape[3]:
        raise ValueError(f"P must be an (H, S, A, S) kernel, got shape {P.shape}")
    if isinstance(M, bool) or int(M) != M or M < 1:
        raise ValueError(f"M must be a positive integer, got {M!r}")
    if not (float(rho) > 0.0 and math.isfinite(float(rho))):
        raise ValueError(f"rho must be a positive finite number, got {rho!r}")
    rng = np.random.default_rng([int(seed), 0x1C7A6])
    H, S, A, _ = P.shape
    noise = rng.dirichlet(np.ones(S), size=(int(M) - 1, H, S, A))
    models = np.concatenate([P[None], (P[None] + rho * noise)], axis=0)
    return models / models.sum(axis=-1, keepdims=True)


def icvar_g_beta_G(M: int, H: int, K: int, delta: float, grid_size: int, bonus_scale: float = 1.0) -> float:
    """beta_G = bonus_scale * sqrt(2 (J+1) log(2 M H K / delta)) (spec eq. 29)."""
    return float(bonus_scale) * math.sqrt(2.0 * grid_size * math.log(2.0 * M * H * K / delta))


class ICVaRG(Agent):
    """ICVaR-G (spec §5.4). Design after Chen et al. 2024; not a transcription.

    Parameters
    ----------
    phi, H, reward, seed:
        known parts of the MDP (``phi`` is not used by the model-based regression, only for shapes).
    models:
        (M, H, S, A, S) candidate kernels (e.g. :func:`perturbation_class`); rows must be distributions.
    alpha, K, p:
        risk level in (0, 1]; planned episodes and failure probability in beta_G (eq. 29).
    bonus_scale:
        multiplies beta_G (1 = theory).
    """

    name = "icvar-g"
    needs_reward = True

    def __init__(
        self,
        phi: np.ndarray,
        H: int,
        *,
        models: np.ndarray | None = None,
        reward: np.ndarray | None = None,
        seed: int = 0,
        alpha: float = 1.0,
        K: int = 1000,
        p: float = 0.05,
        bonus_scale: float = 1.0,
    ) -> None:
        super().__init__(phi, H, reward=reward, seed=seed)
        if models is None:
            raise ValueError(
                "models is required: ICVaR-G needs a finite model class (M, H, S, A, S); "
                "build the agent with ICVaRG.from_mdp(mdp, ...) (spec §5.4 perturbation class)"
            )
        models = np.asarray(models, dtype=np.float64)
        if models.ndim != 5 or models.shape[1:] != (self.H, self.S, self.A, self.S):
            raise ValueError(
                f"models must have shape (M, H, S, A, S) = (M, {self.H}, {self.S}, {self.A}, {self.S}), "
                f"got {models.shape}"
            )
        if not np.all(np.isfinite(models)) or np.any(models < 0.0):
            raise ValueError("models must be finite and non-negative")
        if np.any(np.abs(models.sum(axis=-1) - 1.0) > 1e-9):
            raise ValueError("models rows must sum to 1 (each model is a transition kernel)")
        alpha, K, p, bonus_scale = check_risk_hyper(alpha, K, p, bonus_scale)
        self.models = np.ascontiguousarray(models)
        self.M = models.shape[0]
        self.alpha = alpha
        self.K = int(K)
        self.p = float(p)
        self.bonus_scale = float(bonus_scale)
        self.beta_G = icvar_g_beta_G(self.M, self.H, self.K, self.p, self.S + 2, self.bonus_scale)
        self.loss = np.zeros((self.H, self.M))  # L_h(m) of eq. (28)
        self.Q = np.zeros((self.H, self.S, self.A))
        self.V = np.zeros((self.H + 1, self.S))
        self._dirty = True

    @classmethod
    def from_mdp(
        cls, mdp: Any, seed: int = 0, *, M: int = 16, rho: float = 0.2, class_seed: int | None = None, **hyper: Any
    ) -> ICVaRG:
        """Build the perturbation class of spec §5.4 around ``mdp.P`` (truth included) and the agent."""
        models = perturbation_class(mdp.P, M=M, rho=rho, seed=seed if class_seed is None else class_seed)
        return cls(mdp.phi, mdp.H, models=models, reward=mdp.R, seed=seed, **hyper)

    def confidence_set(self, h: int) -> np.ndarray:
        """Indices of P_{k,h} (eq. 29)."""
        L = self.loss[h]
        return np.flatnonzero(L - L.min() <= self.beta_G**2)

    def plan(self) -> None:
        """Backward pass of eq. (30) over the current confidence sets."""
        def best_cvar(h: int, v_next: np.ndarray) -> np.ndarray:
            conf = self.confidence_set(h)
            return np.asarray(cvar(v_next, self.models[conf, h], self.alpha)).max(axis=0)  # (S, A)

        self.plan_known_reward(best_cvar)
        self._dirty = False

    def policy(self) -> np.ndarray:
        if self._dirty or self._pi is None:
            self.plan()
        assert self._pi is not None
        return self._pi

    def observe(self, states: np.ndarray, actions: np.ndarray, rewards: np.ndarray) -> None:
        s, a, _ = self._check_episode(states, actions, rewards)
        if self._dirty or self._pi is None:  # the values in force during this episode
            self.plan()
        for h in range(self.H):
            V_next = self.V[h + 1]
            grid = support_grid(np.clip(V_next, 0.0, self.H), self.H)
            y = (V_next[s[h + 1]] <= grid).astype(np.float64)
            F = cdf_on_grid(V_next, self.models[:, h, s[h], a[h]], grid)  # (M, J+1)
            self.loss[h] += np.sum((F - y) ** 2, axis=1)
        self.episode += 1
        self._dirty = True
