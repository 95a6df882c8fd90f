"""Heuristic baselines of the scheduling system (RSD4 spec §3.3-3.4).

- :class:`DriftPlusPenalty`: Lyapunov drift-plus-penalty with a virtual energy queue, eq. (27), and
  the closed-form energy eq. (28); options: deadline-aware gain (``deadline_aware=True``: V (beta -
  W_k(c)) with W from the packet DP at lambda = Z / V) and a channel-blind variant for partial
  observation (maximises V beta E_{c~pi}[p(e, c)] - Z e by golden-section search).
- :class:`EDFPolicy`: earliest deadline first with a fixed energy, at most E_b energy per slot.
- :class:`UniformPolicy`: the same energy for every packet, tuned to the budget
  (:func:`~.optimal.uniform_energy_for_budget`, analytic for stationary arrivals).

Policies share one small interface used by :func:`~.evaluation.evaluate`: ``name``,
``needs_channel``, ``reset(env, rng)`` at each episode start and ``energies(env)`` -> per-packet
energies (N, tau_max + 1) for the current slot.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from .optimal import closed_form_energy, packet_dp

__all__ = ["DriftPlusPenalty", "EDFPolicy", "UniformPolicy", "golden_section_max"]


def golden_section_max(f, lo: np.ndarray, hi: np.ndarray, iters: int = 60) -> np.ndarray:
    """Vectorised golden-section search for the maximiser of concave ``f`` on [lo, hi] (elementwise)."""
    g = (np.sqrt(5.0) - 1.0) / 2.0
    a, b = np.array(lo, dtype=float), np.array(hi, dtype=float)
    for _ in range(iters):
        c = b - g * (b - a)
        d = a + g * (b - a)
        left = f(c) >= f(d)  # the maximiser of a concave f lies in [a, d] if f(c) >= f(d)
        b = np.where(left, d, b)
        a = np.where(left, a, c)
    return 0.5 * (a + b)


@nb.njit(cache=True)
def _blind_dpp_energy(vb, Z, pi, kap, e_max, iters):
    """Per user argmax_e vb_i sum_c pi_ic tanh(e / kap_ic) - Z e on [0, e_max] (golden section, concave)."""
    g = (np.sqrt(5.0) - 1.0) / 2.0
    n, nc = pi.shape
    out = np.empty(n)
    for i in range(n):
        a, b = 0.0, e_max
        for _ in range(iters):
            c = b - g * (b - a)
            d = a + g * (b - a)
            fc = -Z * c
            fd = -Z * d
            for j in range(nc):
                fc += vb[i] * pi[i, j] * np.tanh(c / kap[i, j])
                fd += vb[i] * pi[i, j] * np.tanh(d / kap[i, j])
            if fc >= fd:
                b = d
            else:
                a = c
        out[i] = 0.5 * (a + b)
    return out


class DriftPlusPenalty:
    """Lyapunov drift-plus-penalty (Neely 2010), RSD4 spec eqs. (27)-(28).

    Each slot every packet of user i in counter k gets
    e = argmax_e V g_{i,k} p(e, c_i(t), d_i) - Z(t) e with g = beta_i (or beta_i - W_k(c) when
    ``deadline_aware``), in closed form; then Z(t+1) = max(Z(t) + E(t) - E_b, 0). ``Z`` is carried
    across episodes (``reset`` keeps it) unless ``reset_queue()`` is called. With
    ``channel="blind"`` the channel is replaced by its stationary law and the concave problem
    V beta sum_c pi_c p(e, c) - Z e is solved by golden-section search.
    """

    def __init__(self, V: float, budget: float, deadline_aware: bool = False, channel: str = "observed"
                 ) -> None:
        if not (np.isfinite(V) and V > 0):
            raise ValueError(f"V (the drift-plus-penalty trade-off) must be positive, got {V}")
        if not (np.isfinite(budget) and budget >= 0):
            raise ValueError(f"budget must be non-negative, got {budget}")
        if channel not in ("observed", "blind"):
            raise ValueError(f"channel must be 'observed' or 'blind', got {channel!r}")
        if deadline_aware and channel == "blind":
            raise ValueError("deadline_aware needs the observed channel (W_k(c) is channel-indexed)")
        self.V, self.budget, self.deadline_aware, self.channel = float(V), float(budget), deadline_aware, channel
        self.needs_channel = channel == "observed"
        self.name = f"DPP(V={V:g}{', deadline' if deadline_aware else ''}{', blind' if channel == 'blind' else ''})"
        self.Z = 0.0

    def reset_queue(self) -> None:
        self.Z = 0.0

    def reset(self, env, rng: np.random.Generator) -> None:  # Z carried across episodes (spec §3.3)
        pass

    def energies(self, env) -> np.ndarray:
        inst = env.instance
        K = env.n_counters
        beta = inst.beta[:, None] * np.ones((1, K))
        if self.channel == "observed":
            c = env.shown_channel.astype(float)
            kappa = (inst.dist**3 * c)[:, None] * np.ones((1, K))
            if self.deadline_aware:
                W = self._continuation(env, c.astype(int) - 1)
                gain = self.V * (beta - W)
            else:
                gain = self.V * beta
            e = closed_form_energy(gain, self.Z, kappa, inst.e_max)
        else:
            pi = inst.stationary_channel  # (N, nc)
            kap = inst.dist[:, None] ** 3 * np.arange(1, inst.n_channels + 1)[None, :]  # (N, nc)
            e_user = _blind_dpp_energy(self.V * inst.beta, self.Z, pi, kap, inst.e_max, 80)
            e = np.repeat(e_user[:, None], K, axis=1)
        e = e * env.mask
        self.Z = max(self.Z + float((e * env.queues).sum()) - self.budget, 0.0)  # eq. (27)
        return e

    def _continuation(self, env, c0: np.ndarray) -> np.ndarray:
        """W_k(c_i(t)) of eq. (22) at lambda = Z / V (the option ``dpp_deadline`` of spec §3.3)."""
        inst = env.instance
        pol = packet_dp(inst, self.Z / self.V)
        n, K = env.n_users, env.n_counters
        W = np.zeros((n, K))
        for i in range(n):
            P = inst.kernels[i]
            for k in range(1, int(inst.tau[i]) + 1):
                W[i, k] = P[c0[i]] @ pol.value[i, k - 1]
        return W


class EDFPolicy:
    """Earliest deadline first with fixed energy ``e_fix`` (spec §3.4), channel-blind.

    Packets are served in order of remaining lifetime k (ties: higher beta_i, then lower index), each
    with ``e_fix``, until the slot's energy reaches E_b (floor(E_b / e_fix) packets). The environment
    gives one energy per counter, so a counter reached by the budget only in part gets the leftover
    spread evenly over its packets (energy still exactly min(E_b, e_fix * packets) per slot) [our
    adaptation].
    """

    needs_channel = False

    def __init__(self, e_fix: float, budget: float) -> None:
        if not (np.isfinite(e_fix) and e_fix > 0):
            raise ValueError(f"e_fix must be positive, got {e_fix}")
        self.e_fix, self.budget = float(e_fix), float(budget)
        self.name = f"EDF(e={e_fix:g})"
        self._order: np.ndarray | None = None

    def reset(self, env, rng: np.random.Generator) -> None:
        inst = env.instance
        users, ks = np.nonzero(env.mask)
        # sort by k, then higher beta, then lower index
        self._order = np.lexsort((users, -inst.beta[users], ks))
        self._users, self._ks = users, ks

    def energies(self, env) -> np.ndarray:
        e_fix = min(self.e_fix, env.instance.e_max)
        allowed = int(np.floor(self.budget / e_fix + 1e-12))
        users, ks = self._users[self._order], self._ks[self._order]
        q = env.queues[users, ks]
        before = np.cumsum(q) - q
        served = np.clip(allowed - before, 0, q)
        out = np.zeros((env.n_users, env.n_counters))
        with np.errstate(invalid="ignore", divide="ignore"):
            out[users, ks] = np.where(q > 0, e_fix * served / np.maximum(q, 1), 0.0)
        return out


class UniformPolicy:
    """Every packet gets the same energy ``e_bar`` (tuned so that E = E_b, spec §3.4), channel-blind."""

    needs_channel = False

    def __init__(self, e_bar: float) -> None:
        if not (np.isfinite(e_bar) and e_bar >= 0):
            raise ValueError(f"e_bar must be non-negative, got {e_bar}")
        self.e_bar = float(e_bar)
        self.name = f"uniform(e={e_bar:.3f})"

    def reset(self, env, rng: np.random.Generator) -> None:
        pass

    def energies(self, env) -> np.ndarray:
        return np.where(env.mask, min(self.e_bar, env.instance.e_max), 0.0)
