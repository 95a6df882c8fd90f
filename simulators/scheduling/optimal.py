"""Model-based optimal references for the scheduling system (RSD4 spec §3.1-3.2).

- :func:`packet_dp`: the Lagrangian packet-level dynamic programme, eqs. (22)-(24), with the
  closed-form energy (24) (or a maximisation over a finite energy grid), and the per-packet totals
  that give throughput and energy by eq. (25).
- :func:`solve_dual`: bisection on lambda to the budget with Beutler-Ross mixing (spec §3.2); applied
  to :func:`packet_dp` it is the full-information optimum V_full (any instance size).
- :func:`solve_lp`: the constrained-MDP occupation-measure LP (18)-(21) with cvxpy + HiGHS, per user
  and coupled by the average-energy constraint; its dual value on (21) is lambda*.
- :func:`relative_value_iteration`: the per-user Lagrangian average-reward DP on the LP's spaces,
  for cross-checks.
- :func:`open_loop_totals`, :func:`solve_open_loop`: the partial-observability reference V_open,
  eq. (26) (each packet's energies depend only on its remaining lifetime).

Conventions: arrays are padded to K = tau_max + 1 counters and indexed [user, k, channel] with the
channel 0-based (state c + 1). Throughput is weighted on-time deliveries per slot (eq. (6)).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from scipy import optimize, sparse
from scipy.special import comb

from .channels import success_prob
from .instances import SchedulingInstance

__all__ = [
    "PacketPolicy",
    "ConstrainedSolution",
    "closed_form_energy",
    "packet_dp",
    "solve_dual",
    "optimal_full_info",
    "UserModel",
    "build_user_model",
    "LPSolution",
    "solve_lp",
    "relative_value_iteration",
    "open_loop_totals",
    "solve_open_loop",
    "uniform_energy_for_budget",
    "PacketTablePolicy",
    "LPPolicy",
]


def closed_form_energy(gain: np.ndarray, lam: float, kappa: np.ndarray, e_max: float) -> np.ndarray:
    """argmax_{e in [0, e_max]} gain * tanh(e / kappa) - lam * e, RSD4 spec eqs. (24) and (28).

    ``e* = min(e_max, kappa * arccosh(sqrt(gain / (lam * kappa))))`` if lam * kappa < gain, else 0
    (e_max when lam = 0 and gain > 0). Broadcasts over ``gain`` and ``kappa``.
    """
    gain = np.asarray(gain, dtype=float)
    kappa = np.asarray(kappa, dtype=float)
    gain, kappa = np.broadcast_arrays(gain, kappa)
    out = np.zeros(gain.shape)
    if lam <= 0:
        out[gain > 0] = e_max
        return out
    pos = lam * kappa < gain
    with np.errstate(invalid="ignore", divide="ignore"):
        e = kappa[pos] * np.arccosh(np.sqrt(gain[pos] / (lam * kappa[pos])))
    out[pos] = np.minimum(e_max, e)
    return out


@dataclass
class PacketPolicy:
    """A packet-level policy: energy e[i, k, c] for a packet of user i with k slots left in channel c.

    ``succ``/``en`` are each packet's success probability and expected energy from counter k onwards
    (the recursion of eq. (22) under ``energy``); ``tp``/``energy_rate`` are eq. (25) per user.
    """

    lam: float
    energy: np.ndarray
    succ: np.ndarray
    en: np.ndarray
    tp_user: np.ndarray
    en_user: np.ndarray
    value: np.ndarray | None = None

    @property
    def throughput(self) -> float:
        return float(self.tp_user.sum())

    @property
    def energy_rate(self) -> float:
        return float(self.en_user.sum())


def _packet_totals(inst: SchedulingInstance, energy: np.ndarray, pi: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Succ_{i,k}(c), En_{i,k}(c) under a closed-loop packet policy, and eq. (25) per user."""
    n, K, nc = energy.shape
    succ = np.zeros((n, K, nc))
    en = np.zeros((n, K, nc))
    cs = np.arange(1, nc + 1)
    for i in range(n):
        P = inst.kernels[i]
        s_next = np.zeros(nc)
        e_next = np.zeros(nc)
        for k in range(int(inst.tau[i]) + 1):
            p = success_prob(energy[i, k], cs, inst.dist[i])
            succ[i, k] = p + (1 - p) * (P @ s_next)
            en[i, k] = energy[i, k] + (1 - p) * (P @ e_next)
            s_next, e_next = succ[i, k], en[i, k]
    A = inst.mean_rates
    idx = np.arange(n), inst.tau
    tp_user = A * inst.beta * np.einsum("nc,nc->n", pi, succ[idx])
    en_user = A * np.einsum("nc,nc->n", pi, en[idx])
    return succ, en, tp_user, en_user


def packet_dp(inst: SchedulingInstance, lam: float, levels: np.ndarray | None = None) -> PacketPolicy:
    """Lagrangian-optimal packet policy at multiplier ``lam``, RSD4 spec eqs. (22)-(25).

    V_{-1} = 0, W_k(c) = sum_c' P(c, c') V_{k-1}(c'),
    V_k(c) = max_e beta p(e, c, d) + (1 - p) W_k(c) - lam e, with e from the closed form (24) when
    ``levels`` is None, else the best of the finite energy grid ``levels`` (ties: lowest energy).
    """
    lam = float(lam)
    if not (np.isfinite(lam) and lam >= 0):
        raise ValueError(f"lam must be a non-negative finite number, got {lam}")
    n, K, nc = inst.n_users, inst.tau_max + 1, inst.n_channels
    cs = np.arange(1, nc + 1, dtype=float)
    energy = np.zeros((n, K, nc))
    value = np.zeros((n, K, nc))
    if levels is not None:
        levels = np.asarray(levels, dtype=float)
        if levels.ndim != 1 or np.any(levels < 0) or np.any(levels > inst.e_max + 1e-12):
            raise ValueError(f"levels must be a 1-D grid in [0, e_max={inst.e_max}]")
    for i in range(n):
        P = inst.kernels[i]
        kappa = inst.dist[i] ** 3 * cs
        V_prev = np.zeros(nc)
        for k in range(int(inst.tau[i]) + 1):
            W = P @ V_prev if k > 0 else np.zeros(nc)
            gain = inst.beta[i] - W
            if levels is None:
                e = closed_form_energy(gain, lam, kappa, inst.e_max)
                p = np.tanh(e / kappa)
                V = gain * p + W - lam * e
            else:
                p_grid = np.tanh(levels[None, :] / kappa[:, None])  # (nc, L)
                vals = gain[:, None] * p_grid + W[:, None] - lam * levels[None, :]
                best = np.argmax(vals >= vals.max(axis=1, keepdims=True) - 1e-13, axis=1)
                e = levels[best]
                V = vals[np.arange(nc), best]
            energy[i, k], value[i, k] = e, V
            V_prev = V
    pi = inst.stationary_channel
    succ, en, tp_user, en_user = _packet_totals(inst, energy, pi)
    return PacketPolicy(lam, energy, succ, en, tp_user, en_user, value)


@dataclass
class ConstrainedSolution:
    """Solution of max TP s.t. E <= E_b by bisection on lambda with Beutler-Ross mixing (spec §3.2).

    The optimal policy runs ``lo`` (lambda^-, energy above budget) with probability ``mix`` and ``hi``
    (lambda^+) otherwise, drawn once per packet; ``throughput``/``energy`` are the mixed eq. (25) values.
    """

    lam_star: float
    mix: float
    lo: PacketPolicy
    hi: PacketPolicy
    throughput: float
    energy: float
    budget: float
    meta: dict = field(default_factory=dict)

    @property
    def lagrangian_bound(self) -> Callable[[float], float]:
        """TP(pi) <= throughput + lam* (E(pi) - E_b) for every policy pi (weak duality at lam*)."""
        return lambda energy_rate: self.throughput + self.lam_star * (energy_rate - self.budget)


def solve_dual(solve_at: Callable[[float], PacketPolicy], budget: float, lam_max: float,
               rel_tol: float = 1e-9, max_iter: int = 200) -> ConstrainedSolution:
    """Bisection on lambda in [0, lam_max] so that E(lambda) meets ``budget`` (E non-increasing).

    Stops when the bracket is below ``rel_tol * lam_max`` (or |E - E_b| <= 1e-6 E_b), then mixes the
    two bracket policies with q = (E_b - E^+)/(E^- - E^+) (Beutler and Ross 1985).
    """
    zero = solve_at(0.0)
    if zero.energy_rate <= budget:
        return ConstrainedSolution(0.0, 0.0, zero, zero, zero.throughput, zero.energy_rate, budget,
                                   {"iterations": 0, "binding": False})
    lo_lam, hi_lam = 0.0, float(lam_max)
    lo, hi = zero, solve_at(hi_lam)
    it = 0
    while hi_lam - lo_lam > rel_tol * lam_max and it < max_iter:
        it += 1
        mid = 0.5 * (lo_lam + hi_lam)
        pol = solve_at(mid)
        if pol.energy_rate > budget:
            lo_lam, lo = mid, pol
        else:
            hi_lam, hi = mid, pol
        if abs(hi.energy_rate - budget) <= 1e-6 * max(budget, 1e-12) and hi.energy_rate <= budget:
            break
    gap = lo.energy_rate - hi.energy_rate
    q = 0.0 if gap <= 0 else float(np.clip((budget - hi.energy_rate) / gap, 0.0, 1.0))
    tp = q * lo.throughput + (1 - q) * hi.throughput
    en = q * lo.energy_rate + (1 - q) * hi.energy_rate
    return ConstrainedSolution(0.5 * (lo_lam + hi_lam), q, lo, hi, tp, en, budget,
                               {"iterations": it, "binding": True})


def optimal_full_info(inst: SchedulingInstance, levels: np.ndarray | None = None,
                      budget: float | None = None) -> ConstrainedSolution:
    """V_full: the optimum with the channel observed and the model known (spec §3.2), any size.

    Continuous energies by default (closed form (24)); ``levels`` restricts to a grid (= the LP).
    """
    b = inst.budget if budget is None else float(budget)
    return solve_dual(lambda lam: packet_dp(inst, lam, levels), b, inst.lam_max * 1.0000001)


# ------------------------------------------------------------------------------------------ the LP
@dataclass
class UserModel:
    """One user's finite CMDP on the LP spaces of spec §3.1.

    States s = (q_0..q_tau, c) with counters capped at ``cap``; ``pairs`` enumerates the allowed
    (s, u) pairs (level l_k forced to 0 when q_k = 0), contiguous per state. ``P`` is the sparse
    (n_states, n_pairs) matrix of P(s' | s, u); ``reward`` = beta sum_k q_k p(E_{l_k}, c, d) (eq. (18)),
    ``cost`` = sum_k q_k E_{l_k} (eq. (21)).
    """

    n_states: int
    pair_state: np.ndarray
    pair_levels: np.ndarray
    P: sparse.csc_matrix
    reward: np.ndarray
    cost: np.ndarray
    qvecs: np.ndarray
    levels: np.ndarray

    @property
    def n_pairs(self) -> int:
        return int(self.pair_state.size)


def build_user_model(inst: SchedulingInstance, i: int, levels: np.ndarray, cap: int = 1,
                     max_pairs: int = 200_000) -> UserModel:
    """Enumerate user ``i``'s LP model (spec §3.1): states, actions, P from (1)-(2), arrivals, P_rho."""
    tau, nc = int(inst.tau[i]), inst.n_channels
    levels = np.asarray(levels, dtype=float)
    L = levels.size
    if int(cap) != cap or cap < 1:
        raise ValueError(f"cap (the counter cap Q-bar) must be a positive integer, got {cap}")
    n_q = (cap + 1) ** (tau + 1)
    est = nc * sum(math.prod(L if x > 0 else 1 for x in qv)
                   for qv in itertools.product(range(cap + 1), repeat=tau + 1))
    if est > max_pairs:
        raise ValueError(f"user {i}: the LP would have {est} variables (> max_pairs={max_pairs}); "
                         "use optimal_full_info (the packet DP) instead")
    qvecs = np.array(list(itertools.product(range(cap + 1), repeat=tau + 1)), dtype=np.int64)
    radix = (cap + 1) ** np.arange(tau, -1, -1)
    apmf = inst.arrivals.pmf(cap)[i]
    P_c = inst.kernels[i]
    cs = np.arange(1, nc + 1, dtype=float)
    p_lev = np.tanh(levels[None, :] / (inst.dist[i] ** 3 * cs[:, None]))  # (nc, L)
    rows, cols, vals = [], [], []
    pair_state, pair_levels, reward, cost = [], [], [], []
    pid = 0
    for qi, qv in enumerate(qvecs):
        opts = [range(L) if x > 0 else range(1) for x in qv]
        acts = np.array(list(itertools.product(*opts)), dtype=np.int64).reshape(-1, tau + 1)
        nA = acts.shape[0]
        surv_ranges = [range(int(x) + 1) for x in qv[1:]]
        for c in range(nc):
            p = p_lev[c][acts]  # (nA, tau+1)
            r = inst.beta[i] * (qv[None, :] * p).sum(axis=1)
            co = (qv[None, :] * levels[acts]).sum(axis=1)
            s_idx = qi * nc + c
            ids = pid + np.arange(nA)
            pair_state.append(np.full(nA, s_idx))
            pair_levels.append(acts)
            reward.append(r)
            cost.append(co)
            for z in itertools.product(*surv_ranges):
                z = np.asarray(z, dtype=np.int64)
                # P(z_k survivors among q_k) = C(q_k, z_k) (1-p)^{z_k} p^{q_k - z_k}, k = 1..tau
                prob = np.ones(nA)
                for kk in range(tau):
                    qk, zk = int(qv[kk + 1]), int(z[kk])
                    pk = p[:, kk + 1]
                    prob = prob * comb(qk, zk) * (1 - pk) ** zk * pk ** (qk - zk)
                for a in range(cap + 1):
                    if apmf[a] <= 0:
                        continue
                    q_next = np.concatenate([z, [a]])
                    qn = int(q_next @ radix)
                    for c2 in range(nc):
                        w = apmf[a] * P_c[c, c2]
                        if w <= 0:
                            continue
                        rows.append(np.full(nA, qn * nc + c2))
                        cols.append(ids)
                        vals.append(prob * w)
            pid += nA
    n_states = n_q * nc
    P = sparse.csc_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                          shape=(n_states, pid))
    P.sum_duplicates()
    return UserModel(n_states, np.concatenate(pair_state), np.concatenate(pair_levels), P,
                     np.concatenate(reward), np.concatenate(cost), qvecs, levels)


@dataclass
class LPSolution:
    """Optimum of the LP (18)-(21): value (weighted throughput per slot), energy, lambda* (dual of (21))."""

    value: float
    energy: float
    lam_star: float
    x: list[np.ndarray]
    models: list[UserModel]
    status: str


def solve_lp(inst: SchedulingInstance, levels: np.ndarray | int = 5, cap: int = 1,
             budget: float | None = None, solver: str = "HIGHS") -> LPSolution:
    """The occupation-measure LP (18)-(21) of spec §3.1 with cvxpy (HiGHS by default).

    Exact for Bernoulli arrivals with ``cap = 1``; with larger arrivals the counters are capped (an
    approximation of the system). ``levels``: an energy grid or its size L (grid {0, 1/(L-1), ..., 1}
    times e_max).
    """
    try:
        import cvxpy as cp
    except ImportError as exc:  # pragma: no cover - cvxpy is a core dependency
        raise ImportError("solve_lp needs cvxpy (pip install cvxpy)") from exc
    if isinstance(levels, (int, np.integer)):
        if levels < 2:
            raise ValueError(f"levels must be >= 2 energy levels, got {levels}")
        levels = np.linspace(0.0, inst.e_max, int(levels))
    b = inst.budget if budget is None else float(budget)
    models = [build_user_model(inst, i, levels, cap) for i in range(inst.n_users)]
    xs, cons, obj, energy = [], [], 0, 0
    for m in models:
        x = cp.Variable(m.n_pairs, nonneg=True)
        out = sparse.csr_matrix((np.ones(m.n_pairs), (m.pair_state, np.arange(m.n_pairs))),
                                shape=(m.n_states, m.n_pairs))
        cons += [(out - m.P) @ x == 0, cp.sum(x) == 1]  # eqs. (19)-(20)
        obj = obj + m.reward @ x  # eq. (18)
        energy = energy + m.cost @ x
        xs.append(x)
    budget_con = energy <= b  # eq. (21)
    prob = cp.Problem(cp.Maximize(obj), cons + [budget_con])
    kwargs = {"output_flag": False} if solver == "HIGHS" else {}
    prob.solve(solver=solver, **kwargs)
    if prob.status not in ("optimal", "optimal_inaccurate"):
        raise RuntimeError(f"LP solver status {prob.status}")
    return LPSolution(float(prob.value), float(energy.value), float(budget_con.dual_value),
                      [np.asarray(x.value) for x in xs], models, prob.status)


def relative_value_iteration(model: UserModel, lam: float, tol: float = 1e-11, max_iter: int = 100_000,
                             damping: float = 0.5) -> tuple[float, np.ndarray]:
    """Average-reward Lagrangian gain max_pi E[r - lam * cost] of one user model (spec §3.2 cross-check).

    Relative value iteration with the aperiodicity transform h <- (1 - a) h + a T h; stops when the
    span of T h - h is below ``tol``. Returns (gain, bias h).
    """
    P_T = model.P.T.tocsr()
    r = model.reward - lam * model.cost
    starts = np.flatnonzero(np.r_[True, model.pair_state[1:] != model.pair_state[:-1]])
    h = np.zeros(model.n_states)
    for _ in range(max_iter):
        Th = np.maximum.reduceat(r + P_T @ h, starts)
        diff = Th - h
        lo, hi = diff.min(), diff.max()
        if hi - lo < tol:
            return float(0.5 * (lo + hi)), h
        h = h + damping * diff
        h -= h[0]
    raise RuntimeError("relative value iteration did not converge")


# ------------------------------------------------------------------------- partial observability
def open_loop_totals(inst: SchedulingInstance, energy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-user (TP_i, E_i) of an open-loop packet policy e[i, k] (channel-blind), RSD4 spec eq. (26).

    alpha_{tau}(c) = pi_c; Succ = sum_k sum_c alpha_k(c) p(e_k, c); En = sum_k e_k sum_c alpha_k(c);
    alpha_{k-1}(c') = sum_c alpha_k(c) (1 - p(e_k, c)) P(c, c'); totals times A_i (and beta_i).
    """
    energy = np.asarray(energy, dtype=float)
    n, nc = inst.n_users, inst.n_channels
    cs = np.arange(1, nc + 1, dtype=float)
    pi = inst.stationary_channel
    tp = np.zeros(n)
    en = np.zeros(n)
    for i in range(n):
        alpha = pi[i].copy()
        succ = eng = 0.0
        for k in range(int(inst.tau[i]), -1, -1):
            p = np.tanh(energy[i, k] / (inst.dist[i] ** 3 * cs))
            succ += alpha @ p
            eng += energy[i, k] * alpha.sum()
            alpha = (alpha * (1 - p)) @ inst.kernels[i]
        tp[i] = inst.mean_rates[i] * inst.beta[i] * succ
        en[i] = inst.mean_rates[i] * eng
    return tp, en


def _open_loop_user(inst: SchedulingInstance, i: int, lam: float, rng: np.random.Generator,
                    starts: int) -> np.ndarray:
    """argmax over e in [0, e_max]^{tau_i+1} of beta Succ - lam En for one user (L-BFGS-B, random starts)."""
    tau, nc = int(inst.tau[i]), inst.n_channels
    cs = np.arange(1, nc + 1, dtype=float)
    kappa = inst.dist[i] ** 3 * cs
    pi, P, beta = inst.stationary_channel[i], inst.kernels[i], inst.beta[i]

    def neg(e: np.ndarray) -> tuple[float, np.ndarray]:
        # forward pass over k = tau..0 (e[0] is counter tau), then reverse-mode gradient
        alphas, ps = [], []
        alpha = pi.copy()
        val = 0.0
        for j in range(tau + 1):
            p = np.tanh(e[j] / kappa)
            alphas.append(alpha)
            ps.append(p)
            val += beta * (alpha @ p) - lam * e[j] * alpha.sum()
            alpha = (alpha * (1 - p)) @ P
        grad = np.zeros(tau + 1)
        g_alpha = np.zeros(nc)  # d value / d alpha_{j+1}
        for j in range(tau, -1, -1):
            alpha, p = alphas[j], ps[j]
            dp = (1 - p**2) / kappa
            back = P @ g_alpha  # d value / d (alpha * (1 - p)) elementwise
            grad[j] = alpha @ (beta * dp) - lam * alpha.sum() - (alpha * dp) @ back
            g_alpha = beta * p - lam * e[j] + (1 - p) * back
        return -val, -grad

    best_e, best_v = None, np.inf
    bounds = [(0.0, inst.e_max)] * (tau + 1)
    inits = [np.zeros(tau + 1), np.full(tau + 1, inst.e_max)]
    inits += [rng.uniform(0, inst.e_max, tau + 1) for _ in range(max(starts - 2, 0))]
    for x0 in inits:
        res = optimize.minimize(neg, x0, jac=True, method="L-BFGS-B", bounds=bounds)
        if res.fun < best_v - 1e-12:
            best_v, best_e = res.fun, res.x
    out = np.zeros(inst.tau_max + 1)
    out[: tau + 1] = best_e[::-1]  # index by remaining lifetime k
    return out


def solve_open_loop(inst: SchedulingInstance, starts: int = 8, seed: int = 0,
                    budget: float | None = None, rel_tol: float = 1e-7) -> ConstrainedSolution:
    """V_open (spec §3.2, eq. (26)): best channel-blind per-packet energies e_k, bisection on lambda.

    Each per-lambda problem is solved per user by L-BFGS-B (analytic gradient) from ``starts`` starts
    (all-zero, all-e_max and random); the policies of the returned solution have ``energy[i, k, c]``
    constant in c.
    """
    b = inst.budget if budget is None else float(budget)
    nc = inst.n_channels

    def at(lam: float) -> PacketPolicy:
        rng = np.random.default_rng(seed)
        e = np.stack([_open_loop_user(inst, i, lam, rng, starts) for i in range(inst.n_users)])

        tp, en = open_loop_totals(inst, e)
        E3 = np.repeat(e[:, :, None], nc, axis=2)
        return PacketPolicy(lam, E3, np.zeros_like(E3), np.zeros_like(E3), tp, en)

    return solve_dual(at, b, inst.lam_max * 1.0000001, rel_tol=rel_tol)


def uniform_energy_for_budget(inst: SchedulingInstance, budget: float | None = None, tol: float = 1e-10
                              ) -> tuple[float, float, float]:
    """The uniform energy e-bar with E(e-bar) = E_b by bisection on eq. (26) (spec §3.4).

    Returns (e-bar, throughput, energy) per slot; e-bar = e_max if even e_max stays within budget.
    """
    b = inst.budget if budget is None else float(budget)
    K = inst.tau_max + 1

    def totals(ebar: float) -> tuple[float, float]:
        tp, en = open_loop_totals(inst, np.full((inst.n_users, K), ebar))
        return float(tp.sum()), float(en.sum())

    tp, en = totals(inst.e_max)
    if en <= b:
        return inst.e_max, tp, en
    lo, hi = 0.0, inst.e_max
    while hi - lo > tol * inst.e_max:
        mid = 0.5 * (lo + hi)
        if totals(mid)[1] > b:
            hi = mid
        else:
            lo = mid
    tp, en = totals(lo)
    return lo, tp, en


# ------------------------------------------------------------------------- acting in the simulator
class PacketTablePolicy:
    """Acts with a :class:`ConstrainedSolution` in :class:`~.env.SchedulingEnv` (spec §3.2).

    Energy of counter (i, k) in channel c is ``lo.energy[i, k, c]`` or ``hi.energy[i, k, c]``
    according to the cohort's label. All packets of a counter arrived in the same slot (a cohort), so
    the Beutler-Ross mixing is drawn once per cohort when it enters counter tau_i, with probability
    ``mix`` for the lambda^- policy; the expectation is the per-packet mixture of eq. (25).
    Reads the channel (``env.shown_channel``) unless the solution is channel-blind (V_open).
    """

    def __init__(self, solution: ConstrainedSolution, name: str = "V_full (packet DP)",
                 needs_channel: bool | None = None) -> None:
        self.sol = solution
        self.name = name
        blind = bool(np.all(solution.lo.energy == solution.lo.energy[..., :1])
                      and np.all(solution.hi.energy == solution.hi.energy[..., :1]))
        self.needs_channel = (not blind) if needs_channel is None else needs_channel
        self._labels: np.ndarray | None = None
        self._rng = np.random.default_rng(0)

    def reset(self, env, rng: np.random.Generator) -> None:
        self._rng = rng
        self._labels = np.zeros((env.n_users, env.n_counters), dtype=bool)

    def energies(self, env) -> np.ndarray:
        n, K = env.n_users, env.n_counters
        labels = self._labels
        tau = env.instance.tau
        new = np.zeros_like(labels)
        new[:, :-1] = labels[:, 1:]  # cohorts move toward index 0
        new[np.arange(n), tau] = self._rng.random(n) < self.sol.mix
        self._labels = new
        c = (env.shown_channel - 1) if self.needs_channel else np.zeros(n, dtype=np.int64)
        rows = np.arange(n)[:, None]
        ks = np.arange(K)[None, :]
        e_lo = self.sol.lo.energy[rows, ks, c[:, None]]
        e_hi = self.sol.hi.energy[rows, ks, c[:, None]]
        return np.where(new, e_lo, e_hi) * env.mask


class LPPolicy:
    """Acts with the LP's randomised stationary policy pi_i(u | s) = x_i(s, u) / sum_u' x_i(s, u').

    States use the LP's capped counters (exact for Bernoulli arrivals with cap = 1); unvisited states
    (no occupation mass) take the all-zero action.
    """

    needs_channel = True

    def __init__(self, lp: LPSolution, cap: int = 1, name: str = "LP optimum") -> None:
        self.lp, self.cap, self.name = lp, int(cap), name
        self._tables = []
        for m, x in zip(lp.models, lp.x):
            starts = np.flatnonzero(np.r_[True, m.pair_state[1:] != m.pair_state[:-1]])
            ends = np.r_[starts[1:], m.n_pairs]
            self._tables.append((starts, ends, np.clip(x, 0, None)))
        self._rng = np.random.default_rng(0)

    def reset(self, env, rng: np.random.Generator) -> None:
        self._rng = rng

    def energies(self, env) -> np.ndarray:
        out = np.zeros((env.n_users, env.n_counters))
        nc = env.instance.n_channels
        for i, (m, (starts, ends, x)) in enumerate(zip(self.lp.models, self._tables)):
            tau = int(env.instance.tau[i])
            qv = np.minimum(env.queues[i, : tau + 1], self.cap)
            radix = (self.cap + 1) ** np.arange(tau, -1, -1)
            s = int(qv @ radix) * nc + int(env.shown_channel[i]) - 1
            w = x[starts[s]: ends[s]]
            tot = w.sum()
            j = starts[s] + (int(self._rng.choice(w.size, p=w / tot)) if tot > 1e-12 else 0)
            out[i, : tau + 1] = m.levels[m.pair_levels[j]]
        return out
