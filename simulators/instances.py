"""Named, seeded linear-MDP instances (spec §2).

``make_instance(name, seed=0, **params)`` builds any of :data:`INSTANCES`:

- ``"random"``        RandomLinearMDP, spec §2.1 [ours];
- ``"tabular"``       a random tabular MDP written as a linear MDP (one-hot φ, d = S·A), spec §2.2 [ours];
- ``"hard"``          the K-tuned lower-bound instance of Zhou, Gu, Szepesvári (COLT 2021), linear-MDP
                      embedding with d_feat = d + 1, spec §2.3 [paper + ours];
- ``"low-variance"``  LowVarianceMDP(η, q), spec §2.4 [ours];
- ``"misspecified"``  Misspecified(env, ζ): P' = (1−ζ)P + ζP^tab, spec §2 [ours];
- ``"safe-risky"``    SafeRisky for iterated CVaR, spec §2 [ours].

Every instance stores its parameters, including ``seed``, in ``mdp.params``, so that
``make_instance(mdp.name, **mdp.params)`` rebuilds it exactly. Bad parameters raise ValueError naming
the parameter. h is 0-based in code.
"""

from __future__ import annotations

import inspect
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .linear_mdp import LinearMDP, clean_kernel

# ---------------------------------------------------------------------------------------------- checks


def _int(name: str, v: Any, lo: int = 1, hi: int | None = None) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
        if isinstance(v, (float, np.floating)) and float(v).is_integer():
            v = int(v)
        else:
            raise ValueError(f"{name} must be an integer, got {v!r}")
    v = int(v)
    if v < lo or (hi is not None and v > hi):
        rng = f">= {lo}" if hi is None else f"in [{lo}, {hi}]"
        raise ValueError(f"{name} must be an integer {rng}, got {v}")
    return v


def _float(name: str, v: Any, lo: float, hi: float, lo_open: bool = False, hi_open: bool = False) -> float:
    try:
        f = float(v)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {v!r}") from None
    bad = (not np.isfinite(f)) or f < lo or f > hi or (lo_open and f == lo) or (hi_open and f == hi)
    if bad:
        left = "(" if lo_open else "["
        right = ")" if hi_open else "]"
        raise ValueError(f"{name} must lie in {left}{lo:g}, {hi:g}{right}, got {v!r}")
    return f


def _bool(name: str, v: Any) -> bool:
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, np.integer)) and v in (0, 1):
        return bool(v)
    if isinstance(v, str) and v.lower() in ("true", "false", "1", "0", "yes", "no"):
        return v.lower() in ("true", "1", "yes")
    raise ValueError(f"{name} must be a boolean, got {v!r}")


def _seed(seed: Any) -> int:
    return _int("seed", seed, lo=0)


# ---------------------------------------------------------------------------------------------- §2.1
def random_linear(
    seed: int = 0,
    S: int = 50,
    A: int = 5,
    d: int = 10,
    H: int = 10,
    a_phi: float = 0.3,
    a_mu: float = 0.1,
    homogeneous: bool = False,
    bernoulli_rewards: bool = False,
    uniform_init: bool = False,
) -> LinearMDP:
    """RandomLinearMDP, spec §2.1 [ours]: simplex features, Dirichlet next-state factors.

    φ(s,a) ~ Dirichlet(a_φ 1_d) (so ||φ||₂ ≤ 1); each column i of μ_h ~ Dirichlet(a_μ 1_S), so
    P_h(·|s,a) = Σ_i φ_i μ_{h,i} is a convex mixture of distributions; θ_h ~ U[0,1]^d, so r ∈ [0,1].
    ``homogeneous`` shares μ, θ across h. Start state 0, or uniform ρ₀ with ``uniform_init``.
    """
    seed = _seed(seed)
    S, A, d, H = _int("S", S), _int("A", A), _int("d", d), _int("H", H)
    a_phi = _float("a_phi", a_phi, 0.0, np.inf, lo_open=True, hi_open=True)
    a_mu = _float("a_mu", a_mu, 0.0, np.inf, lo_open=True, hi_open=True)
    homogeneous, bernoulli_rewards = (
        _bool("homogeneous", homogeneous),
        _bool("bernoulli_rewards", bernoulli_rewards),
    )
    uniform_init = _bool("uniform_init", uniform_init)
    rng = np.random.default_rng(seed)
    phi = rng.dirichlet(np.full(d, a_phi), size=(S, A))
    n_steps = 1 if homogeneous else H
    mu = np.stack([rng.dirichlet(np.full(S, a_mu), size=d).T for _ in range(n_steps)])  # (n, S, d)
    theta = rng.uniform(0.0, 1.0, size=(n_steps, d))
    if homogeneous:
        mu = np.repeat(mu, H, axis=0)
        theta = np.repeat(theta, H, axis=0)
    init = np.full(S, 1.0 / S) if uniform_init else 0
    params = dict(
        seed=seed,
        S=S,
        A=A,
        d=d,
        H=H,
        a_phi=a_phi,
        a_mu=a_mu,
        homogeneous=homogeneous,
        bernoulli_rewards=bernoulli_rewards,
        uniform_init=uniform_init,
    )
    return LinearMDP.from_factors(
        phi, mu, theta, init, name="random", params=params, bernoulli_rewards=bernoulli_rewards
    )


# ---------------------------------------------------------------------------------------------- §2.2
def tabular_as_linear(
    P: Any,
    R: Any,
    init: Any,
    name: str = "tabular",
    params: dict[str, Any] | None = None,
    *,
    pad: int = 0,
    pad_scale: float = 0.5,
    rng: np.random.Generator | None = None,
    bernoulli_rewards: bool = False,
) -> LinearMDP:
    """Write a tabular MDP (P (H,S,A,S), R (H,S,A)) as a linear MDP, spec §2.2 [ours].

    φ(s,a) = e_(s,a) (index s·A + a), μ_h[s', (s,a)] = P_h(s'|s,a), θ_h = r_h, d = S·A. With ``pad`` > 0,
    ``pad`` nuisance coordinates are appended: φ = (√(1−ρ²) e_(s,a), ρ u_(s,a)) with u_(s,a) a random unit
    vector and ρ = ``pad_scale``; μ and θ carry 1/√(1−ρ²) on the one-hot block and 0 on the nuisance
    block, so P and R are unchanged and ||φ|| = 1.
    """
    P = clean_kernel(np.asarray(P, dtype=np.float64))
    R = np.asarray(R, dtype=np.float64)
    if P.ndim != 4 or R.ndim != 3:
        raise ValueError(f"P must be (H,S,A,S) and R (H,S,A), got {P.shape} and {R.shape}")
    H, S, A, _ = P.shape
    pad = _int("pad", pad, lo=0)
    rho = _float("pad_scale", pad_scale, 0.0, 1.0, hi_open=True) if pad > 0 else 0.0
    c = np.sqrt(1.0 - rho**2)
    n = S * A
    d = n + pad
    phi = np.zeros((S, A, d))
    phi[:, :, :n] = c * np.eye(n).reshape(S, A, n)
    if pad > 0:
        rng = rng if rng is not None else np.random.default_rng(0)
        u = rng.normal(size=(S, A, pad))
        u /= np.linalg.norm(u, axis=-1, keepdims=True)
        phi[:, :, n:] = rho * u
    mu = np.zeros((H, S, d))
    mu[:, :, :n] = np.transpose(P.reshape(H, n, S), (0, 2, 1)) / c
    theta = np.zeros((H, d))
    theta[:, :n] = R.reshape(H, n) / c
    return LinearMDP.from_factors(
        phi, mu, theta, init, name=name, params=params, bernoulli_rewards=bernoulli_rewards
    )


def tabular(
    seed: int = 0,
    S: int = 5,
    A: int = 2,
    H: int = 5,
    a_P: float = 1.0,
    homogeneous: bool = False,
    pad: int = 0,
    bernoulli_rewards: bool = False,
) -> LinearMDP:
    """A random tabular MDP as a linear MDP, spec §2.2 [ours]: P_h(·|s,a) ~ Dirichlet(a_P 1_S), r ~ U[0,1].

    Start state 0; d = S·A (+ ``pad`` nuisance features, see :func:`tabular_as_linear`).
    """
    seed = _seed(seed)
    S, A, H = _int("S", S), _int("A", A), _int("H", H)
    a_P = _float("a_P", a_P, 0.0, np.inf, lo_open=True, hi_open=True)
    homogeneous, bernoulli_rewards = (
        _bool("homogeneous", homogeneous),
        _bool("bernoulli_rewards", bernoulli_rewards),
    )
    pad = _int("pad", pad, lo=0)
    rng = np.random.default_rng(seed)
    n_steps = 1 if homogeneous else H
    P = rng.dirichlet(np.full(S, a_P), size=(n_steps, S, A))
    R = rng.uniform(0.0, 1.0, size=(n_steps, S, A))
    if homogeneous:
        P, R = np.repeat(P, H, axis=0), np.repeat(R, H, axis=0)
    params = dict(
        seed=seed,
        S=S,
        A=A,
        H=H,
        a_P=a_P,
        homogeneous=homogeneous,
        pad=pad,
        bernoulli_rewards=bernoulli_rewards,
    )
    return tabular_as_linear(
        P, R, 0, name="tabular", params=params, pad=pad, rng=rng, bernoulli_rewards=bernoulli_rewards
    )


# ---------------------------------------------------------------------------------------------- §2.3
def hard_actions(d: int) -> np.ndarray:
    """The action set {−1,+1}^{d−1} as a (2^{d−1}, d−1) array; action index = its row."""
    return np.array(list(itertools.product((-1.0, 1.0), repeat=d - 1)))


def hard_delta(d: int, H: int, K: int) -> tuple[float, float]:
    """(δ, Δ) of spec §2.3: δ = 1/H, Δ = sqrt(δ/K)/(4√2) [paper]."""
    delta = 1.0 / H
    return delta, float(np.sqrt(delta / K) / (4.0 * np.sqrt(2.0)))


def hard(seed: int = 0, d: int = 4, H: int = 5, K: int = 1000, Delta: float | None = None) -> LinearMDP:
    """The K-tuned hard instance, spec §2.3, eq. (6).

    Source: the lower-bound instance of Zhou, Gu, Szepesvári, "Nearly Minimax Optimal RL for Linear Mixture
    MDPs" (COLT 2021) [paper], embedded as a linear MDP with d_feat = d + 1 [ours]. States: the chain
    x_1..x_{H+1} (code indices 0..H; at code step h the agent is at chain index h or at g) and the
    absorbing good state g (index H+1); actions {−1,+1}^{d−1} (:func:`hard_actions`); δ = 1/H,
    Δ = sqrt(δ/K)/(4√2) unless ``Delta`` is given; μ_h ∈ {−Δ,+Δ}^{d−1} with i.i.d. uniform signs per seed.

        P(g|x_h,a) = δ + ⟨μ_h,a⟩,  P(x_{h+1}|x_h,a) = 1 − δ − ⟨μ_h,a⟩,  P(g|g,a) = 1   (6)
        r_h(g,·) = 1,  r_h(x_h,·) = 0

    Embedding: φ(x,a) = (1,a,0)/√d, φ(g,a) = e_{d+1}; μ_h(x_{h+1}) = (√d(1−δ), −√d μ_h, 0),
    μ_h(g) = (√d δ, √d μ_h, 1); θ_h = e_{d+1}. Validity (asserted): (d−1)Δ ≤ δ/4, which holds for the
    default Δ iff K ≥ (d−1)²H/2. The optimal action is a*_h = sign(μ_h); the closed-form value (7) is
    :func:`hard_closed_form_value`. Rebuild the instance for every K of a sweep ("K-tuned").
    """
    seed = _seed(seed)
    d = _int("d", d, lo=2, hi=12)
    H = _int("H", H, lo=2)
    K = _int("K", K)
    delta, Dlt = hard_delta(d, H, K)
    if Delta is not None:
        Dlt = _float("Delta", Delta, 0.0, 1.0, lo_open=True)
    if (d - 1) * Dlt > delta / 4.0 + 1e-15:
        what = f"Delta={Dlt:.6g}" if Delta is not None else f"K={K}"
        raise ValueError(
            f"hard instance invalid: {what} gives (d-1)*Delta = {(d - 1) * Dlt:.6g} > "
            f"delta/4 = {delta / 4:.6g}; "
            f"need K >= (d-1)^2 H / 2 = {(d - 1) ** 2 * H / 2:g} (spec §2.3)"
        )
    rng = np.random.default_rng(seed)
    signs = rng.choice(np.array([-1.0, 1.0]), size=(H, d - 1))
    mus = Dlt * signs  # (H, d-1)
    acts = hard_actions(d)
    A = acts.shape[0]
    S = H + 2
    g = H + 1
    df = d + 1
    sq = np.sqrt(d)
    phi = np.zeros((S, A, df))
    phi[:g, :, 0] = 1.0 / sq
    phi[:g, :, 1:d] = acts[None, :, :] / sq
    phi[g, :, d] = 1.0
    mu = np.zeros((H, S, df))
    for h in range(H):
        mu[h, h + 1, 0] = sq * (1.0 - delta)
        mu[h, h + 1, 1:d] = -sq * mus[h]
        mu[h, g, 0] = sq * delta
        mu[h, g, 1:d] = sq * mus[h]
        mu[h, g, d] = 1.0
    theta = np.zeros((H, df))
    theta[:, d] = 1.0
    params = dict(seed=seed, d=d, H=H, K=K, Delta=None if Delta is None else Dlt)
    return LinearMDP.from_factors(phi, mu, theta, 0, name="hard", params=params)


@dataclass(frozen=True)
class HardStructure:
    """The quantities of eq. (6) recovered from a hard instance: δ, Δ, μ (H, d−1), actions (A, d−1)."""

    delta: float
    Delta: float
    mu: np.ndarray
    actions: np.ndarray

    @property
    def optimal_actions(self) -> np.ndarray:
        """Index of a*_h = sign(μ_h) for each h (H,)."""
        signs = np.sign(self.mu)
        return np.array([int(np.flatnonzero(np.all(self.actions == s, axis=1))[0]) for s in signs])


def hard_structure(mdp: LinearMDP) -> HardStructure:
    """Recover (δ, Δ, μ_h, actions) from a hard instance built by :func:`hard`."""
    if mdp.name != "hard" or mdp.mu is None:
        raise ValueError(f"mdp must be a 'hard' instance, got {mdp.name!r}")
    d = mdp.d - 1
    H = mdp.H
    g = H + 1
    sq = np.sqrt(d)
    mus = np.asarray(mdp.mu[:, g, 1:d]) / sq
    delta = float(mdp.mu[0, g, 0] / sq)
    return HardStructure(delta=delta, Delta=float(np.max(np.abs(mus))), mu=mus, actions=hard_actions(d))


def hard_closed_form_value(mdp: LinearMDP, pi: Any) -> float:
    """Eq. (7): V^π_1(x_1) = Σ_{h=1}^{H−1} (H−h) p_h Π_{j<h}(1−p_j), p_h = δ + ⟨μ_h, π_h(x_h)⟩.

    ``pi`` is (H,S) int; only its actions on the chain (π_h(x_h) = pi[h, h]) matter.
    """
    st = hard_structure(mdp)
    pi = np.asarray(pi)
    H = mdp.H
    value, survive = 0.0, 1.0
    for h in range(H - 1):  # code step h = spec step h+1, reward H-(h+1) after a move to g
        p = st.delta + float(st.mu[h] @ st.actions[int(pi[h, h])])
        value += (H - 1 - h) * p * survive
        survive *= 1.0 - p
    return value


@dataclass(frozen=True)
class HardLinearMixture:
    """The original linear-*mixture* form of the hard instance (spec §2.3, "HardLinearMixture").

    P_h(s'|s,a) = ⟨ψ(s'|s,a), θ_h⟩ with θ_h = (1, μ_h) ∈ R^d and ψ(g|x,a) = (δ, a), ψ(x_next|x,a) = (1−δ, −a),
    ψ(g|g,a) = ψ(x_{H+1}|x_{H+1},a) = (1, 0). Rewards r(g,·) = 1, r(x,·) = 0. Same state and action indices
    as :func:`hard`; on the reachable pairs (chain index h at step h, and g) its kernel equals the embedding.
    """

    psi: np.ndarray  # (S, A, S, d)
    theta: np.ndarray  # (H, d)
    R: np.ndarray  # (H, S, A)

    def kernel(self) -> np.ndarray:
        """P (H, S, A, S) = ⟨ψ, θ_h⟩."""
        return np.einsum("satd,hd->hsat", self.psi, self.theta)


def hard_linear_mixture(
    seed: int = 0, d: int = 4, H: int = 5, K: int = 1000, Delta: float | None = None
) -> HardLinearMixture:
    """The mixture form of :func:`hard` with the same seed (same signs of μ_h), for reference."""
    mdp = hard(seed=seed, d=d, H=H, K=K, Delta=Delta)
    st = hard_structure(mdp)
    acts = st.actions
    A, S, g = acts.shape[0], H + 2, H + 1
    psi = np.zeros((S, A, S, d))
    for j in range(H + 1):
        if j == H:
            psi[j, :, j, 0] = 1.0
            continue
        psi[j, :, j + 1, 0] = 1.0 - st.delta
        psi[j, :, j + 1, 1:] = -acts
        psi[j, :, g, 0] = st.delta
        psi[j, :, g, 1:] = acts
    psi[g, :, g, 0] = 1.0
    theta = np.concatenate([np.ones((H, 1)), st.mu], axis=1)
    return HardLinearMixture(psi=psi, theta=theta, R=np.asarray(mdp.R).copy())


# ---------------------------------------------------------------------------------------------- §2.4
def low_variance(
    seed: int = 0,
    S: int = 50,
    A: int = 5,
    d: int = 10,
    H: int = 10,
    eta: float = 0.01,
    q: float = 0.1,
    bernoulli_rewards: bool = False,
) -> LinearMDP:
    """LowVarianceMDP(η, q), spec §2.4 [ours]: mostly near-deterministic transitions, a few noisy pairs.

    μ_{h,i} = (1−η) e_{g_h(i)} + η Uniform(S) with a random target g_h(i); φ(s,a) is a one-hot vertex with
    probability 1−q and Dirichlet(0.3) otherwise; θ_h has 2 non-zero coordinates ~ U[0,1]. Start state 0.
    """
    seed = _seed(seed)
    S, A, d, H = _int("S", S), _int("A", A), _int("d", d), _int("H", H)
    eta = _float("eta", eta, 0.0, 1.0)
    q = _float("q", q, 0.0, 1.0)
    bernoulli_rewards = _bool("bernoulli_rewards", bernoulli_rewards)
    rng = np.random.default_rng(seed)
    vertex = rng.random((S, A)) >= q
    phi = rng.dirichlet(np.full(d, 0.3), size=(S, A))
    idx = rng.integers(0, d, size=(S, A))
    phi[vertex] = np.eye(d)[idx[vertex]]
    targets = rng.integers(0, S, size=(H, d))
    mu = np.full((H, S, d), eta / S)
    for h in range(H):
        mu[h, targets[h], np.arange(d)] += 1.0 - eta
    theta = np.zeros((H, d))
    for h in range(H):
        nz = rng.choice(d, size=min(2, d), replace=False)
        theta[h, nz] = rng.uniform(0.0, 1.0, size=nz.size)
    params = dict(seed=seed, S=S, A=A, d=d, H=H, eta=eta, q=q, bernoulli_rewards=bernoulli_rewards)
    return LinearMDP.from_factors(
        phi, mu, theta, 0, name="low-variance", params=params, bernoulli_rewards=bernoulli_rewards
    )


# ---------------------------------------------------------------------------------------------- misspecified
def misspecified(seed: int = 0, zeta: float = 0.1, base: str = "random", **base_params: Any) -> LinearMDP:
    """Misspecified(env, ζ), spec §2 [ours]: P' = (1−ζ)P + ζP^tab with P^tab a random tabular kernel.

    ``base`` names the linear instance (any of :data:`INSTANCES` except ``misspecified``), built with
    the same seed and ``base_params``; P^tab_h(·|s,a) ~ Dirichlet(1_S) from an independent stream. The
    rewards stay linear; the kernel is not (``mdp.mu`` is None, ``mdp.linearity_residual() > 0``).
    Jin et al.'s bound is O(√(d³H³Tι²) + ζdHT√ι) [recalled]: expect linear regret with slope ∝ ζ.
    """
    seed = _seed(seed)
    zeta = _float("zeta", zeta, 0.0, 1.0)
    if base == "misspecified" or base not in INSTANCES:
        allowed = ", ".join(n for n in INSTANCES if n != "misspecified")
        raise ValueError(f"base must be one of {allowed}, got {base!r}")
    env = make_instance(base, seed=seed, **base_params)
    rng = np.random.default_rng([seed, 0x5EED])
    P_tab = rng.dirichlet(np.ones(env.S), size=(env.H, env.S, env.A))
    P = clean_kernel((1.0 - zeta) * np.asarray(env.P) + zeta * P_tab)
    params = dict(seed=seed, zeta=zeta, base=base, **{k: v for k, v in env.params.items() if k != "seed"})
    return LinearMDP(
        env.phi,
        P,
        env.R,
        env.init,
        name="misspecified",
        params=params,
        bernoulli_rewards=env.bernoulli_rewards,
    )


# ---------------------------------------------------------------------------------------------- SafeRisky
SAFE, RISKY = 0, 1
OK, DEAD = 0, 1


def safe_risky(
    seed: int = 0, p_c: float = 0.1, H: int = 5, pad: int = 0, pad_scale: float = 0.5
) -> LinearMDP:
    """SafeRisky, spec §2 [ours]: where risk matters for iterated CVaR.

    States {ok = 0, dead = 1}; dead is absorbing with reward 0. At ok, *safe* (action 0) gives r = 0.5 and
    stays; *risky* (action 1) gives r = 1 and moves to dead with probability ``p_c``. Embedded via §2.2
    (:func:`tabular_as_linear`), optionally with ``pad`` nuisance features (drawn from ``seed``). The
    mean-optimal and CVaR-optimal first actions differ for α below α_crit(p_c, H)
    (:func:`safe_risky_alpha_crit`).
    """
    seed = _seed(seed)
    p_c = _float("p_c", p_c, 0.0, 1.0)
    H = _int("H", H)
    pad = _int("pad", pad, lo=0)
    pad_scale = _float("pad_scale", pad_scale, 0.0, 1.0, hi_open=True)
    P = np.zeros((H, 2, 2, 2))
    P[:, OK, SAFE, OK] = 1.0
    P[:, OK, RISKY, OK] = 1.0 - p_c
    P[:, OK, RISKY, DEAD] = p_c
    P[:, DEAD, :, DEAD] = 1.0
    R = np.zeros((H, 2, 2))
    R[:, OK, SAFE] = 0.5
    R[:, OK, RISKY] = 1.0
    params = dict(seed=seed, p_c=p_c, H=H, pad=pad, pad_scale=pad_scale)
    return tabular_as_linear(
        P,
        R,
        OK,
        name="safe-risky",
        params=params,
        pad=pad,
        pad_scale=pad_scale,
        rng=np.random.default_rng(seed),
    )


def alpha_crit(mdp: LinearMDP, h: int = 0, state: int | None = None, tol: float = 1e-10) -> float:
    """The risk level at which the iterated-CVaR optimal action at (h, state) leaves the mean-optimal one.

    Bisection on the exact DP (spec §5.1): returns α_crit such that π*_α(h, state) ≠ π*_1(h, state) for
    α just below it and = for α just above. ``state`` defaults to the most likely initial state. Raises
    ValueError if the actions agree at α → 0 (no switch) or already differ at α = 1 − tol... (no crossing).
    Assumes a single crossing, as in SafeRisky.
    """
    from .dp import optimal

    s = int(np.argmax(mdp.init)) if state is None else _int("state", state, lo=0, hi=mdp.S - 1)
    h = _int("h", h, lo=0, hi=mdp.H - 1)
    a1 = int(optimal(mdp, 1.0).pi[h, s])

    def differs(a: float) -> bool:
        return int(optimal(mdp, a).pi[h, s]) != a1

    lo, hi = 1e-9, 1.0
    if not differs(lo):
        raise ValueError(
            f"the CVaR-optimal and mean-optimal actions at (h={h}, state={s}) agree for every alpha"
        )
    while hi - lo > tol:
        mid = 0.5 * (lo + hi)
        if differs(mid):
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def safe_risky_alpha_crit(p_c: float = 0.1, H: int = 5, tol: float = 1e-10) -> float:
    """α_crit(p_c, H) of SafeRisky, by bisection on the exact iterated-CVaR DP (spec §2, §5.1)."""
    return alpha_crit(safe_risky(p_c=p_c, H=H), h=0, state=OK, tol=tol)


# ---------------------------------------------------------------------------------------------- registry
INSTANCES: dict[str, Callable[..., LinearMDP]] = {
    "random": random_linear,
    "tabular": tabular,
    "hard": hard,
    "low-variance": low_variance,
    "misspecified": misspecified,
    "safe-risky": safe_risky,
}


def instance_params(name: str) -> dict[str, Any]:
    """The parameters (and defaults) of a named instance, without ``seed``; for ``misspecified`` the
    parameters of its default base are included."""
    if name not in INSTANCES:
        raise ValueError(f"instance must be one of {', '.join(INSTANCES)}, got {name!r}")
    sig = inspect.signature(INSTANCES[name])
    out = {
        k: p.default
        for k, p in sig.parameters.items()
        if k != "seed" and p.kind is not inspect.Parameter.VAR_KEYWORD
    }
    if name == "misspecified":
        for k, v in instance_params(str(out["base"])).items():
            out.setdefault(k, v)
    return out


def make_instance(name: str, seed: int = 0, **params: Any) -> LinearMDP:
    """Build the named instance with ``seed`` and parameters; unknown parameters raise ValueError."""
    if name not in INSTANCES:
        raise ValueError(f"instance must be one of {', '.join(INSTANCES)}, got {name!r}")
    builder = INSTANCES[name]
    sig = inspect.signature(builder)
    takes_kwargs = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in sig.parameters.values())
    if not takes_kwargs:
        unknown = sorted(set(params) - set(sig.parameters) - {"seed"})
        if unknown:
            allowed = ", ".join(k for k in sig.parameters if k != "seed")
            raise ValueError(
                f"unknown parameter(s) {', '.join(unknown)} for instance {name!r}; allowed: {allowed}"
            )
    return builder(seed=seed, **params)
