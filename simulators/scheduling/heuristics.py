"""Heuristic baselines of the scheduling system (RSD4 spec §3.3-3.4).

- :class:`DriftPlusPenalty`: Lyapunov drift-plus-penalty with a virtual energy queue, eq. (27), and
  the closed-form energy eq. (28); options: deadline-aware gain (``deadline_aware=True``: V (beta -
  W_k(c)) with W from the packet DP at lambda = Z / V) and two variants for partial observation: the
  channel-blind one (maximises V beta E_{c~pi}[p(e, c)] - Z e by golden-section search) and the
  spec's option of an HMM-filter belief per user in place of pi (``channel="belief"``).
- :class:`ChannelBelief`: that filter, the exact posterior of c_i(t) given the outcomes the counters
  reveal.
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

from .channels import initial_law, success_prob
from .optimal import closed_form_energy, packet_dp

__all__ = ["ChannelBelief", "DriftPlusPenalty", "EDFPolicy", "UniformPolicy", "golden_section_max",
           "observed_successes"]


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


def observed_successes(q_before: np.ndarray, q_after: np.ndarray, tau: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Successes S_{i,k}(t) that the counters reveal, and which (i, k) they are known for.

    Within a slot (spec §1.1) the counters shift toward index 0 after transmission and arrivals enter
    counter tau_i, so for 1 <= k <= tau_i the packets of counter k that were not delivered are exactly
    q_{i,k-1}(t+1): S_{i,k} = q_{i,k}(t) - q_{i,k-1}(t+1). Index 0 leaves the buffer delivered or
    expired alike, so its outcome is not observed (``known[:, 0]`` is False).
    """
    q0, q1 = np.asarray(q_before, dtype=float), np.asarray(q_after, dtype=float)
    K = q0.shape[-1]
    S = np.zeros_like(q0)
    S[..., 1:] = q0[..., 1:] - q1[..., :-1]
    known = (np.arange(K)[None, :] >= 1) & (np.arange(K)[None, :] <= np.asarray(tau)[:, None])
    S = np.where(known, S, 0.0)
    if np.any(S < -1e-9) or np.any(S > q0 + 1e-9):
        raise ValueError("the counters are not one slot apart (a shifted counter grew)")
    return S, known


class ChannelBelief:
    """HMM filter of the hidden channels (RSD4 spec §3.3, option "an HMM-filter belief per user").

    ``b[i, c] = P(c_i(t) = c | outcomes of slots < t)``. After slot t, with per-counter energies e and
    the successes S of :func:`observed_successes` (q_{i,k}(t) attempts in counter k), Bayes then the
    channel step:

        post_i(c) ∝ b_i(c) · Π_{k known} p(e_k, c, d_i)^{S_k} (1 − p(e_k, c, d_i))^{q_k − S_k},
        b_i'(c') = Σ_c post_i(c) P_i(c, c'),

    with p(e, c, d) = tanh(e / (d³ c)) (spec eq. (5)); users are independent, so the filter is exact
    for the information the counters carry. It starts at the law of c_i(0) (``channel_start``).
    """

    def __init__(self, inst) -> None:
        self.instance = inst
        self.kernels = np.asarray(inst.kernels, dtype=float)
        self.tau = np.asarray(inst.tau)
        self.states = np.arange(1, self.kernels.shape[-1] + 1)  # channel states 1..N_c
        self.dist = np.asarray(inst.dist, dtype=float)
        self.initial = initial_law(self.kernels, inst.channel_start)
        self.b = self.initial.copy()

    def reset(self) -> None:
        self.b = self.initial.copy()

    def log_likelihood(self, q_before: np.ndarray, energies: np.ndarray, q_after: np.ndarray) -> np.ndarray:
        """log P(observed outcomes of the slot | c_i = c), shape (N, nc), up to a constant per user."""
        S, known = observed_successes(q_before, q_after, self.tau)
        n = np.where(known, np.asarray(q_before, dtype=float), 0.0)
        p = success_prob(np.asarray(energies, dtype=float)[:, :, None], self.states[None, None, :],
                         self.dist[:, None, None])  # (N, K, nc)
        fail = (n - S)[..., None]
        with np.errstate(divide="ignore", invalid="ignore"):  # 0 * log 0 = 0: masked below
            ll = np.where(S[..., None] > 0, S[..., None] * np.log(p), 0.0)
            ll += np.where(fail > 0, fail * np.log1p(-p), 0.0)
        return ll.sum(axis=1)

    def update(self, q_before: np.ndarray, energies: np.ndarray, q_after: np.ndarray) -> np.ndarray:
        """One filter step (Bayes on slot t's outcomes, then the channel kernel); returns the new belief."""
        ll = self.log_likelihood(q_before, energies, q_after)
        post = self.b * np.exp(ll - ll.max(axis=1, keepdims=True))
        post /= post.sum(axis=1, keepdims=True)
        self.b = np.einsum("ic,icd->id", post, self.kernels)
        return self.b


class DriftPlusPenalty:
    """Lyapunov drift-plus-penalty (Neely 2010), RSD4 spec eqs. (27)-(28).

    Each slot every packet of user i in counter k gets
    e = argmax_e V g_{i,k} p(e, c_i(t), d_i) - Z(t) e with g = beta_i (or beta_i - W_k(c) when
    ``deadline_aware``), in closed form; then Z(t+1) = max(Z(t) + E(t) - E_b, 0). ``Z`` is carried
    across episodes (``reset`` keeps it) unless ``reset_queue()`` is called. With
    ``channel="blind"`` the channel is replaced by its stationary law and the concave problem
    V beta sum_c pi_c p(e, c) - Z e is solved by golden-section search; ``channel="belief"`` uses the
    :class:`ChannelBelief` posterior b_i in place of pi (it reads only the counters, as a partially
    observed learner does).
    """

    def __init__(self, V: float, budget: float, deadline_aware: bool = False, channel: str = "observed"
                 ) -> None:
        if not (np.isfinite(V) and V > 0):
            raise ValueError(f"V (the drift-plus-penalty trade-off) must be positive, got {V}")
        if not (np.isfinite(budget) and budget >= 0):
            raise ValueError(f"budget must be non-negative, got {budget}")
        if channel not in ("observed", "blind", "belief"):
            raise ValueError(f"channel must be 'observed', 'blind' or 'belief', got {channel!r}")
        if deadline_aware and channel != "observed":
            raise ValueError("deadline_aware needs the observed channel (W_k(c) is channel-indexed)")
        self.V, self.budget, self.deadline_aware, self.channel = float(V), float(budget), deadline_aware, channel
        self.needs_channel = channel == "observed"
        extra = ", deadline" if deadline_aware else "" if channel == "observed" else f", {channel}"
        self.name = f"DPP(V={V:g}{extra})"
        self.Z = 0.0
        self._filter: ChannelBelief | None = None
        self._last: tuple[np.ndarray, np.ndarray] | None = None  # (q(t), e(t)) of the previous slot

    def reset_queue(self) -> None:
        self.Z = 0.0

    def reset(self, env, rng: np.random.Generator) -> None:  # Z carried across episodes (spec §3.3)
        if self.channel == "belief":
            if self._filter is None or self._filter.instance is not env.instance:  # one filter per instance
                self._filter = ChannelBelief(env.instance)
            self._filter.reset()
            self._last = None

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
            if self.channel == "belief":
                if self._filter is None:
                    raise RuntimeError("call reset(env, rng) at the start of each episode (the filter restarts there)")
                if self._last is not None:
                    self._filter.update(self._last[0], self._last[1], env.queues)
                pi = self._filter.b
            else:
                pi = inst.stationary_channel  # (N, nc)
            kap = inst.dist[:, None] ** 3 * np.arange(1, inst.n_channels + 1)[None, :]  # (N, nc)
            e_user = _blind_dpp_energy(self.V * inst.beta, self.Z, pi, kap, inst.e_max, 80)
            e = np.repeat(e_user[:, None], K, axis=1)
        e = e * env.mask
        if self.channel == "belief":  # the energies the env applies (its action is float32)
            self._last = (np.array(env.queues, dtype=float), env.action_to_energies(env.energies_to_action(e)))
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
