"""``VarianceAwareLSVI``: the one least-squares value-iteration engine (spec §4.3).

Every linear-MDP algorithm of the library is a preset of this engine (spec §4.3):

* LSVI-UCB (spec §3): unit weights, Hoeffding radius (11), regressed reward, no pessimistic value,
  recomputed every episode (or rarely switched, spec §3 "Options");
* LSVI-UCB++ (spec §4.2): weights sigma_bar^{-2} from eq. (14), optimistic and pessimistic values
  (13a)/(13b), monotone in k, recomputed only at determinant-doubling switches;
* LSVI-UCB+ (spec §4.1, revised version): the same machinery with its own constants (experimental).

What the engine does at the start of episode k (``policy()``), for h = H..1 (0-based: H-1..0):

    w_hat   = Sigma^{-1} sum_i w_i phi_i (r_i? + V_{h+1}(s'_i))             spec eq. (9) / (12a)
    w_check = Sigma^{-1} sum_i w_i phi_i V_check_{h+1}(s'_i)                spec eq. (12b)
    w_tilde = Sigma^{-1} sum_i w_i phi_i V_{h+1}(s'_i)^2                    spec eq. (12b)
    if switching now:                                                    spec §3 "rare_switch", (13)
        Q_h       = min{ r_h? + phi^T w_hat + beta ||phi||_{Sigma^{-1}}, Q_h(prev)?, clip_h }   (10)/(13a)
        Q_check_h = max{ r_h + phi^T w_check - beta_bar ||phi||_{Sigma^{-1}}, Q_check_h(prev), 0 }  (13b)
    V_h = max_a Q_h,  V_check_h = max_a Q_check_h

and after the episode (``observe()``), at each visited pair, the weight sigma_bar^{-2} of spec eq. (14)
(or 1 when unweighted) and the update Sigma <- Sigma + w phi phi^T of eq. (14e)/(8), through the shared
kernel :class:`provable.ridge.WeightedRidge` (Sherman-Morrison, eq. (34)).

Two paths compute exactly the same quantities (equal to 1e-9 on the same data; tested):

* ``path="fast"`` (finite S): the sums are kept aggregated by next state (spec eq. (35),
  :class:`provable.ridge.NextStateAggregate`), so an episode costs O(H(S A d^2 + d S)) whatever k is;
  the Q functions are tables (H, S, A).
* ``path="plain"`` (any feature map): every transition is stored with the feature tensor of its next
  state (:class:`provable.ridge.TransitionLog`); the Q function is kept in parametric form (the list of
  (w, Sigma^{-1}) pieces fixed at each switch; with the monotone min of (13a) the value at a new point
  is the min over pieces) and evaluated at every stored next state, as in the paper (spec §3, "Cost").
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numba
import numpy as np

from provable.agents.base import Agent
from provable.ridge import NextStateAggregate, TransitionLog, WeightedRidge

__all__ = ["EngineConfig", "VarianceAwareLSVI"]


@dataclass(frozen=True)
class EngineConfig:
    """Everything that distinguishes one preset of the engine from another (spec §4.3).

    Radii: ``beta`` (optimistic bonus, eq. (10)/(13a)), ``beta_bar`` (pessimistic bonus and the
    E/D terms, eq. (13b)/(14b)/(14c)), ``beta_tilde`` (second-moment regression error, eq. (14b)).

    Variance weights (eq. (14)), used when ``weighted``:
    ``sigma^2 = [VV] + E + D + H`` with ``D = min{corr_coef (phi^T w_hat - phi^T w_check + 2 beta_bar u),
    corr_cap}``; ``sigma_bar = max{sigma, sigma_floor, floor_coef * u^{1/2}}``.
    """

    lam: float
    beta: float
    beta_bar: float = 0.0
    beta_tilde: float = 0.0
    weighted: bool = False
    pessimistic: bool = False
    monotone: bool = False
    switching: str = "every"  # "every" episode, or "logdet": det doubling (spec §3, (13))
    switch_threshold: float = math.log(2.0)
    reward_known: bool = False
    clip: str = "H"  # "H" or "H-h+1" (spec §9 #2)
    corr_coef: float = 0.0
    corr_cap: float = 0.0
    sigma_floor: float = 1.0
    floor_coef: float = 0.0

    def validate(self) -> EngineConfig:
        for name in ("lam",):
            v = getattr(self, name)
            if not (v > 0 and math.isfinite(v)):
                raise ValueError(f"{name} must be a positive finite number, got {v!r}")
        for name in ("beta", "beta_bar", "beta_tilde", "corr_coef", "corr_cap", "sigma_floor",
                     "floor_coef", "switch_threshold"):
            v = getattr(self, name)
            if not (v >= 0 and math.isfinite(v)):
                raise ValueError(f"{name} must be a non-negative finite number, got {v!r}")
        if self.switching not in ("every", "logdet"):
            raise ValueError(f"switching must be 'every' or 'logdet', got {self.switching!r}")
        if self.clip not in ("H", "H-h+1"):
            raise ValueError(f"clip must be 'H' or 'H-h+1', got {self.clip!r}")
        if (self.weighted or self.pessimistic) and not self.reward_known:
            raise ValueError("the variance-aware presets assume a known reward (spec §9 #3): reward_known=True")
        if self.weighted and not self.pessimistic:
            raise ValueError("weighted=True needs pessimistic=True (the correction term D uses V_check)")
        return self

    def scaled(self, bonus_scale: float) -> EngineConfig:
        """All radii multiplied by ``bonus_scale`` (the documented practical knob)."""
        if not (bonus_scale >= 0 and math.isfinite(bonus_scale)):
            raise ValueError(f"bonus_scale must be a non-negative finite number, got {bonus_scale!r}")
        return replace(self, beta=self.beta * bonus_scale, beta_bar=self.beta_bar * bonus_scale,
                       beta_tilde=self.beta_tilde * bonus_scale)


@numba.njit(cache=True)
def _plan_fast(phi: np.ndarray, r_known: np.ndarray, clip_h: np.ndarray, inv: np.ndarray, M: np.ndarray,
               b: np.ndarray, Q: np.ndarray, Qc: np.ndarray, w_hat: np.ndarray, w_check: np.ndarray,
               w_tilde: np.ndarray, switch: bool, need_reg: bool, reward_known: bool, pessimistic: bool,
               monotone: bool, beta: float, beta_bar: float) -> None:
    """Fused backward pass of the fast path, in place (spec eqs. (9)-(10), (12)-(13) with eq. (35)).

    For h = H-1..0: targets ``t = b? + M_h [V, V_check, V^2]`` (eq. (35)), ``w = Sigma_h^{-1} t``
    (eq. (9)/(12)); at a switch, for every (s, a): ``u = ||phi||_{Sigma_h^{-1}}``,
    ``Q = min{r? + phi^T w_hat + beta u, Q_prev?, clip_h}`` (eq. (10)/(13a)) and
    ``Q_check = max{r + phi^T w_check - beta_bar u, Q_check_prev?, 0}`` (eq. (13b)); then
    ``V = max_a Q``, ``V_check = max_a Q_check``. Cost O(H (S A d^2 + d S)), independent of k.
    """
    H, S, A, d = Q.shape[0], Q.shape[1], Q.shape[2], phi.shape[2]
    V = np.zeros(S)
    Vc = np.zeros(S)
    t = np.zeros((d, 3))
    ix = np.zeros(d)
    for h in range(H - 1, -1, -1):
        if need_reg:
            for i in range(d):
                t0 = 0.0 if reward_known else b[h, i]
                t1 = 0.0
                t2 = 0.0
                if h < H - 1:
                    for s in range(S):
                        m = M[h, i, s]
                        if m != 0.0:
                            t0 += m * V[s]
                            t1 += m * Vc[s]
                            t2 += m * V[s] * V[s]
                t[i, 0] = t0
                t[i, 1] = t1
                t[i, 2] = t2
            for i in range(d):
                a0 = 0.0
                a1 = 0.0
                a2 = 0.0
                for j in range(d):
                    g = inv[h, i, j]
                    a0 += g * t[j, 0]
                    a1 += g * t[j, 1]
                    a2 += g * t[j, 2]
                w_hat[h, i] = a0
                w_check[h, i] = a1
                w_tilde[h, i] = a2
        if switch:
            for s in range(S):
                for a in range(A):
                    q = 0.0
                    for i in range(d):
                        acc = 0.0
                        for j in range(d):
                            acc += inv[h, i, j] * phi[s, a, j]
                        ix[i] = acc
                    up = r_known[h, s, a]
                    lo = r_known[h, s, a]
                    for i in range(d):
                        q += phi[s, a, i] * ix[i]
                        up += phi[s, a, i] * w_hat[h, i]
                        lo += phi[s, a, i] * w_check[h, i]
                    u = np.sqrt(q) if q > 0.0 else 0.0
                    up = min(up + beta * u, clip_h[h])
                    Q[h, s, a] = min(Q[h, s, a], up) if monotone else up
                    if pessimistic:
                        lo = max(lo - beta_bar * u, 0.0)
                        Qc[h, s, a] = max(Qc[h, s, a], lo) if monotone else lo
        for s in range(S):
            vm = Q[h, s, 0]
            vc = Qc[h, s, 0]
            for a in range(1, A):
                if Q[h, s, a] > vm:
                    vm = Q[h, s, a]
                if Qc[h, s, a] > vc:
                    vc = Qc[h, s, a]
            V[s] = vm
            Vc[s] = vc


@numba.njit(cache=True)
def _sigma_bars(X: np.ndarray, inv: np.ndarray, w_hat: np.ndarray, w_check: np.ndarray, w_tilde: np.ndarray,
                H: float, beta_bar: float, beta_tilde: float, corr_coef: float, corr_cap: float,
                sigma_floor: float, floor_coef: float) -> np.ndarray:
    """sigma_bar of spec eq. (14a)-(14d) at the visited features X (H, d) of one episode, one per step h,
    with u = ||x||_{Sigma_h^{-1}} before the update (same formula as :meth:`VarianceAwareLSVI.sigma_bar`)."""
    n, d = X.shape
    out = np.empty(n)
    for h in range(n):
        q = 0.0
        for i in range(d):
            acc = 0.0
            for j in range(d):
                acc += inv[h, i, j] * X[h, j]
            q += X[h, i] * acc
        u = np.sqrt(q) if q > 0.0 else 0.0
        p1 = 0.0
        p2 = 0.0
        pc = 0.0
        for i in range(d):
            p1 += X[h, i] * w_hat[h, i]
            p2 += X[h, i] * w_tilde[h, i]
            pc += X[h, i] * w_check[h, i]
        m1 = min(max(p1, 0.0), H)
        m2 = min(max(p2, 0.0), H * H)
        vv = m2 - m1 * m1
        e = min(beta_tilde * u, H * H) + min(2.0 * H * beta_bar * u, H * H)
        dterm = min(corr_coef * (p1 - pc + 2.0 * beta_bar * u), corr_cap)
        sigma = np.sqrt(max(vv + e + dterm + H, 0.0))
        out[h] = max(sigma, sigma_floor, floor_coef * np.sqrt(u))
    return out


@dataclass
class _Piece:
    """One fresh estimate fixed at a switch: ``r? + phi^T w + sign * beta ||phi||_{inv}`` (plain path)."""

    w: np.ndarray
    inv: np.ndarray
    beta: float
    sign: float


class VarianceAwareLSVI(Agent):
    """The shared LSVI engine; see the module docstring. Use a preset subclass rather than this class.

    Parameters
    ----------
    phi, H, reward, seed:
        the MDP's known parts (see :class:`provable.agents.base.Agent`).
    config:
        an :class:`EngineConfig`.
    path:
        ``"fast"`` (aggregation by next state, spec eq. (35)) or ``"plain"`` (all stored transitions).
    refresh_every:
        exact Cholesky refresh interval of the ridge kernel (spec §8).
    """

    name = "variance-aware-lsvi"

    def __init__(self, phi: np.ndarray, H: int, *, config: EngineConfig, reward: np.ndarray | None = None,
                 seed: int = 0, path: str = "fast", refresh_every: int = 1000) -> None:
        self.config = config.validate()
        if config.reward_known and reward is None:
            raise ValueError(f"{self.name} uses the known reward: pass reward (H, S, A)")
        super().__init__(phi, H, reward=reward, seed=seed)
        if path not in ("fast", "plain"):
            raise ValueError(f"path must be 'fast' or 'plain', got {path!r}")
        self.path = path
        H_, S, A, d = self.H, self.S, self.A, self.d
        c = self.config
        self.clip_h = (np.full(H_, float(H_)) if c.clip == "H" else np.arange(H_, 0, -1, dtype=np.float64))
        # stacked storage; the per-step kernel objects are views into it (one fused Numba plan, fast path)
        self._gram = np.zeros((H_, d, d))
        self._inv = np.zeros((H_, d, d))
        self.ridge = [WeightedRidge(d, c.lam, refresh_every, buffers=(self._gram[h], self._inv[h]))
                      for h in range(H_)]
        self.logdet_last = np.array([r.logdet for r in self.ridge])
        self.Q = np.broadcast_to(self.clip_h[:, None, None], (H_, S, A)).copy()  # Q_0 = H (spec §4.2)
        self.Q_check = np.zeros((H_, S, A))  # Q_check_0 = 0
        self.w_hat = np.zeros((H_, d))
        self.w_check = np.zeros((H_, d))
        self.w_tilde = np.zeros((H_, d))
        self._r_known = self.reward if c.reward_known else np.zeros((H_, S, A))
        if path == "fast":
            self._b = np.zeros((H_, d))
            self._M = np.zeros((H_, d, S))
            self.agg = [NextStateAggregate(d, S, buffers=(self._b[h], self._M[h])) for h in range(H_)]
        else:
            self.log = [TransitionLog(d, A) for _ in range(H_)]
            self.pieces_up: list[list[_Piece]] = [[] for _ in range(H_)]
            self.pieces_lo: list[list[_Piece]] = [[] for _ in range(H_)]
            self._cache: dict[tuple[int, bool], tuple[np.ndarray, int, int]] = {}
        self._planned = False
        self.last_sigma_bar = np.zeros(H_)

    # ------------------------------------------------------------------------------------------
    def _switch_now(self) -> bool:
        """Switching rule: every episode, or det Sigma_h >= 2 det Sigma_h(last) for some h (spec §3, (13))."""
        if self.config.switching == "every":
            return True
        logdet = np.array([r.logdet for r in self.ridge])
        return bool(np.any(logdet - self.logdet_last >= self.config.switch_threshold - 1e-12))

    def _next_values_plain(self, h: int, upper: bool) -> np.ndarray:
        """(n_h, A) Q_{h+1} (or Q_check_{h+1}) at the stored next states of step h (plain path)."""
        log = self.log[h]
        pieces = (self.pieces_up if upper else self.pieces_lo)[h + 1]
        init = self.clip_h[h + 1] if upper else 0.0
        key = (h, upper)
        arr, n_rows, n_pieces = self._cache.get(key, (np.zeros((0, self.A)), 0, 0))
        n = log.n
        if arr.shape[0] < n:
            new = np.empty((max(n, 2 * arr.shape[0]), self.A))
            new[: arr.shape[0]] = arr
            arr = new
        feats, rews = log.next_feats, log.next_rewards
        fold = np.minimum if upper else np.maximum

        def piece_vals(p: _Piece, lo: int, hi: int) -> np.ndarray:
            f = feats[lo:hi]
            base = (rews[lo:hi] if self.config.reward_known else 0.0) + f @ p.w
            norms = np.sqrt(np.maximum(np.einsum("nad,de,nae->na", f, p.inv, f), 0.0))
            return base + p.sign * p.beta * norms

        if self.config.monotone:
            for p in pieces[n_pieces:]:
                arr[:n_rows] = fold(arr[:n_rows], piece_vals(p, 0, n_rows))
            arr[n_rows:n] = init
            for p in pieces:
                arr[n_rows:n] = fold(arr[n_rows:n], piece_vals(p, n_rows, n))
        else:
            lo = 0 if len(pieces) != n_pieces else n_rows
            arr[lo:n] = init
            if pieces:
                arr[lo:n] = fold(arr[lo:n], piece_vals(pieces[-1], lo, n))
        self._cache[key] = (arr, n, len(pieces))
        return arr[:n]

    def _plan(self) -> None:
        """Backward pass at the start of an episode: eqs. (9)-(10) or (12)-(13)."""
        c = self.config
        switch = self._switch_now()
        need_reg = switch or c.weighted
        if switch:
            self.n_switches += 1
            self.logdet_last = np.array([r.logdet for r in self.ridge])
        if self.path == "fast":
            _plan_fast(self.phi, self._r_known, self.clip_h, self._inv, self._M, self._b, self.Q,
                       self.Q_check, self.w_hat, self.w_check, self.w_tilde, switch, need_reg,
                       c.reward_known, c.pessimistic, c.monotone, c.beta, c.beta_bar)
            self._pi = self.greedy(self.Q)
            self._planned = True
            return
        S = self.S
        V = np.zeros(S)
        Vc = np.zeros(S)
        for h in range(self.H - 1, -1, -1):
            ridge = self.ridge[h]
            if need_reg:
                if h == self.H - 1:
                    tgt = np.zeros((self.d, 3))
                    if not c.reward_known:
                        tgt[:, 0] = self.agg[h].b if self.path == "fast" else self.log[h].targets(
                            np.zeros(self.log[h].n), with_reward=True)
                elif self.path == "fast":
                    tgt = self.agg[h].targets(np.stack([V, Vc, V * V], axis=1))
                    if not c.reward_known:
                        tgt[:, 0] += self.agg[h].b
                else:
                    qn = self._next_values_plain(h, True)
                    vn = qn.max(axis=1) if qn.shape[0] else np.zeros(0)
                    if c.pessimistic:
                        qc = self._next_values_plain(h, False)
                        vcn = qc.max(axis=1) if qc.shape[0] else np.zeros(0)
                    else:
                        vcn = np.zeros_like(vn)
                    tgt = self.log[h].targets(np.stack([vn, vcn, vn * vn], axis=1))
                    if not c.reward_known:
                        tgt[:, 0] += self.log[h].targets(np.zeros(self.log[h].n), with_reward=True)
                W = ridge.solve(tgt)
                self.w_hat[h], self.w_check[h], self.w_tilde[h] = W[:, 0], W[:, 1], W[:, 2]
            if switch:
                bonus = ridge.norms(self.phi)  # (S, A)  ||phi(s,a)||_{Sigma^{-1}}
                base = self._r_known[h] + self.phi @ self.w_hat[h]
                fresh = np.minimum(base + c.beta * bonus, self.clip_h[h])
                self.Q[h] = np.minimum(self.Q[h], fresh) if c.monotone else fresh
                if self.path == "plain":
                    self.pieces_up[h].append(_Piece(self.w_hat[h].copy(), ridge.inv.copy(), c.beta, 1.0))
                if c.pessimistic:
                    lo = np.maximum(self._r_known[h] + self.phi @ self.w_check[h] - c.beta_bar * bonus, 0.0)
                    self.Q_check[h] = np.maximum(self.Q_check[h], lo) if c.monotone else lo
                    if self.path == "plain":
                        self.pieces_lo[h].append(_Piece(self.w_check[h].copy(), ridge.inv.copy(),
                                                        c.beta_bar, -1.0))
            V = self.Q[h].max(axis=1)
            Vc = self.Q_check[h].max(axis=1)
        self._pi = self.greedy(self.Q)
        self._planned = True

    def policy(self) -> np.ndarray:
        """Greedy policy (H, S) of the optimistic Q for the coming episode (spec eq. (10) / §4.2)."""
        if not self._planned:
            self._plan()
        assert self._pi is not None
        return self._pi

    # ------------------------------------------------------------------------------------------
    def sigma_bar(self, h: int, x: np.ndarray, u: float) -> float:
        """Variance weight of one visited pair, spec eq. (14a)-(14d).

        ``[VV] = [phi^T w_tilde]_[0,H^2] - ([phi^T w_hat]_[0,H])^2``                    (14a)
        ``E = min{beta_tilde u, H^2} + min{2 H beta_bar u, H^2}``                         (14b)
        ``D = min{corr_coef (phi^T w_hat - phi^T w_check + 2 beta_bar u), corr_cap}``     (14c)
        ``sigma = sqrt([VV] + E + D + H)``, ``sigma_bar = max{sigma, floor, floor_coef u^{1/2}}`` (14d)

        ``[VV] + E + D + H`` is clipped at 0 before the square root ([VV] alone can be -H^2 when the
        two regressions disagree); sigma_bar >= floor > 0 anyway.
        """
        c, H = self.config, float(self.H)
        m1 = min(max(float(x @ self.w_hat[h]), 0.0), H)
        m2 = min(max(float(x @ self.w_tilde[h]), 0.0), H * H)
        vv = m2 - m1 * m1
        e = min(c.beta_tilde * u, H * H) + min(2.0 * H * c.beta_bar * u, H * H)
        gap = float(x @ self.w_hat[h]) - float(x @ self.w_check[h]) + 2.0 * c.beta_bar * u
        dterm = min(c.corr_coef * gap, c.corr_cap)
        sigma = math.sqrt(max(vv + e + dterm + H, 0.0))
        return max(sigma, c.sigma_floor, c.floor_coef * math.sqrt(u))

    def observe(self, states: np.ndarray, actions: np.ndarray, rewards: np.ndarray) -> None:
        """Add the episode to the regressions with weights 1 or sigma_bar^{-2} (eqs. (8), (14e), (35))."""
        s, a, r = self._check_episode(states, actions, rewards)
        c = self.config
        if c.weighted and not self._planned:  # weights use the estimates in force during the episode (§4.2)
            self._plan()
        X = self.phi[s[:-1], a]  # (H, d) visited features
        if c.weighted:
            self.last_sigma_bar = _sigma_bars(X, self._inv, self.w_hat, self.w_check, self.w_tilde,
                                              float(self.H), c.beta_bar, c.beta_tilde, c.corr_coef,
                                              c.corr_cap, c.sigma_floor, c.floor_coef)
            weights = 1.0 / self.last_sigma_bar**2
        else:
            weights = np.ones(self.H)
        for h in range(self.H):
            x = X[h]
            weight = float(weights[h])
            self.ridge[h].update(x, weight)
            if self.path == "fast":
                self.agg[h].add(x, int(s[h + 1]), float(r[h]), weight)
            else:
                nxt = int(s[h + 1])
                nr = self._r_known[h + 1, nxt] if h + 1 < self.H else None
                self.log[h].add(x, weight, float(r[h]), self.phi[nxt], nr)
        self.episode += 1
        self._planned = False
