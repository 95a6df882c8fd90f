"""Numba kernels of the scheduling system (RSD4 spec §1): one slot of M lock-step episodes, and the
exogenous draws of a reset.

Layout shared by the kernels (allocated by :class:`simulators.scheduling.core.BatchCore`):

- ``q`` (M, N, tau_max + 1) int64: the counters q_{i,k}(t) (zero where k > tau_i);
- ``exo`` (M, H + 1, 3, N) int64: per slot t, plane 0 the arrivals a_i(t) (t < H), plane 1 the true
  channel c_i(t) (1-based), plane 2 the channel the observation shows (plane 1 unless sensing noise);
- ``rng_state`` (M,) uint64: one splitmix64 state per episode, driving the transmissions;
- ``tau`` (N,) int64; ``fpar`` float64 = (d_1^3..d_N^3, beta_1..beta_N, e_max, lambda);
- flat arrays: actions (M B,), observations (M D,), and ``info`` rows (4 M, N) = per episode
  S_i, E_i, D_i, r_i (eqs. (1), (3), (8)).

Transmissions are exact: one Bernoulli draw per packet for counters of <= 12 packets, else the
binomial inverse CDF from one uniform; uniforms are k / 2^53 with k the top 53 bits of a splitmix64
output.
"""

from __future__ import annotations

import numba as nb
import numpy as np

__all__ = ["binomial_from_uniform", "draw_exogenous", "begin_episode", "step_slot"]

_BINOM_EXACT_MAX = 1000
_PER_PACKET_MAX = 12
_TWO53 = 9007199254740992.0


@nb.njit(cache=True)
def binomial_from_uniform(n: int, p: float, u: float) -> int:
    """Binomial(n, p) by inverse CDF from one uniform u in [0, 1) (exact for n <= 1000).

    Uses the symmetry Bin(n, p) = n - Bin(n, 1 - p) so that p <= 1/2 and (1 - p)^n cannot underflow
    for n <= 1000; larger counters (never met by the presets) use a rounded normal approximation.
    """
    if n <= 0 or p <= 0.0:
        return 0
    if p >= 1.0:
        return n
    flip = p > 0.5
    pp = 1.0 - p if flip else p
    uu = 1.0 - u if flip else u
    if n > _BINOM_EXACT_MAX:
        # Acklam-free approximation: Box-Muller is not possible from one uniform, so use the logit
        # inverse of the normal CDF (error < 1e-2 in quantile), clipped to [0, n].
        z = np.log(uu / (1.0 - uu) + 1e-300) / 1.702
        s = int(np.floor(n * pp + z * np.sqrt(n * pp * (1.0 - pp)) + 0.5))
        s = min(max(s, 0), n)
        return n - s if flip else s
    ratio = pp / (1.0 - pp)
    pmf = (1.0 - pp) ** n
    cdf = pmf
    s = 0
    while uu >= cdf and s < n:
        pmf *= ratio * (n - s) / (s + 1.0)
        s += 1
        cdf += pmf
    return n - s if flip else s


@nb.njit(cache=True, inline="always")
def _mix53(z):
    """splitmix64 output (Steele, Lea, Flood 2014) of a state value, as a 53-bit integer k: the
    uniform is k / 2^53.

    Each episode owns one 64-bit state, seeded at reset from the env's ``np_random`` and advanced by
    the golden-ratio increment per draw, so transmissions are reproducible per episode.
    """
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    return z >> np.uint64(11)


@nb.njit(cache=True, inline="always")
def _success_prob(e, kc):
    """Eq. (5): p = tanh(e / kappa) = expm1(2x) / (expm1(2x) + 2), x = e / kappa (exact to rounding)."""
    x2 = np.expm1(2.0 * e / kc)
    return x2 / (x2 + 2.0)


# Relative margin around the tanh bracket: far above the rounding of the bracket's Horner evaluation
# (< 1e-15 relative for x <= 1) and of p = _success_prob (expm1 < 1 ulp, one add, one division).
_MARGIN = 1e-12


@nb.njit(cache=True, inline="always")
def tanh_bracket(x):
    """(lo, hi) with lo <= tanh(x) <= hi for 0 <= x <= sqrt(3) (we use x <= 1):

        lo = x - x^3/3 + 2x^5/15 - 17x^7/315,   hi = x - x^3/3 + 2x^5/15.

    Proof, for x >= 0: tanh(x) <= x; f = tanh(x) - x + x^3/3 has f' = x^2 - tanh^2(x) >= 0, so
    tanh(x) >= x - x^3/3; g = hi - tanh(x) has g' = tanh^2(x) - x^2 + 2x^4/3 >= (x - x^3/3)^2 - x^2
    + 2x^4/3 = x^6/9 >= 0 while x - x^3/3 >= 0 (x <= sqrt(3)); h = tanh(x) - lo has
    h' = x^2 - 2x^4/3 + 17x^6/45 - tanh^2(x) >= that minus hi^2 = 4x^8/45 - 4x^10/225 >= 0 (x <= sqrt(5)).
    """
    x2 = x * x
    hi = x * (1.0 + x2 * (-1.0 / 3.0 + x2 * (2.0 / 15.0)))
    lo = hi - x * x2 * x2 * x2 * (17.0 / 315.0)
    return lo, hi


@nb.njit(cache=True, inline="always")
def _bernoulli_count(n, e, kc, x, st):
    """Successes among ``n`` packets, one Bernoulli(p) per packet with p = :func:`_success_prob`
    (eq. (5)), and the advanced splitmix64 state: packet j succeeds iff k_j < p 2^53, k_j the 53-bit
    output of state st + j gamma, i.e. u_j = k_j / 2^53 < p.

    Exactly that count, but p (an expm1 and two divisions, most of a step's time if done for every
    counter) is only computed when a draw falls between the bounds of :func:`tanh_bracket` at
    x = e / kappa (computed as e (1 / kappa), a few ulps off), widened by the relative margin 1e-12.
    """
    gamma = np.uint64(0x9E3779B97F4A7C15)
    st0 = st
    s = 0
    if 1e-200 < x <= 1.0:
        lo, hi = tanh_bracket(x)
        # for an integer k: k < z  <=>  k < ceil(z); both bounds are at most 2^53
        k_lo = np.int64(np.ceil(lo * ((1.0 - _MARGIN) * _TWO53)))
        k_hi = np.int64(np.ceil(hi * ((1.0 + _MARGIN) * _TWO53)))
        unsure = 0
        for _ in range(n):
            st += gamma
            k = np.int64(_mix53(st))
            s += np.int64(k < k_lo)
            unsure |= np.int64(k >= k_lo) & np.int64(k < k_hi)
        if unsure == 0:
            return s, st
    # exact: u = k / 2^53 < p  <=>  k < ceil(p 2^53), an integer comparison, counted without a branch
    thr = np.uint64(np.ceil(_success_prob(e, kc) * _TWO53))
    st = st0
    s = 0
    for _ in range(n):
        st += gamma
        s += np.int64(_mix53(st) < thr)
    return s, st


@nb.njit(cache=True)
def step_slot(t, q, rng_state, exo, tau, fpar, action, info, obs):
    """Slot ``t`` of M lock-step episodes, all users: RSD4 spec eqs. (1)-(3), (5) and (8), in place.

    Per counter (user-major, k ascending, the global-buffer layout of ``action``): clip a to [-1, 1],
    e = e_max (a + 1)/2 (spec §1.2 (ii)); s ~ Binomial(q_{i,k}, p) with p = tanh(e / (d_i^3 c_i(t)))
    (eqs. (1), (5)); energy e q_{i,k} is charged; the survivors move to k - 1 (eq. (2)), or expire
    at k = 0 (eq. (3)); the slot's arrivals fill k = tau_i. Writes S, E, D, r per user into ``info``
    rows 4m..4m+3, the next observation (counters, then the shown channel c(t + 1) if ``obs`` has
    room for it, i.e. unless partially observed) into ``obs``, and returns the summed reward
    sum_m sum_i r_{i,t} (in user order). Returns NaN and changes nothing if an action is NaN.
    """
    M = q.shape[0]
    n_users = q.shape[1]
    n_act = action.shape[0]
    for j in range(n_act):
        if np.isnan(action[j]):
            return np.nan
    B = n_act // M
    D = obs.shape[0] // M
    e_max = fpar[2 * n_users]
    lam = fpar[2 * n_users + 1]
    gamma = np.uint64(0x9E3779B97F4A7C15)
    total = 0.0
    for m in range(M):
        st = rng_state[m]  # the episode's splitmix64 state, kept in a register for this slot
        j = m * B
        o = m * D
        for i in range(n_users):
            ti = tau[i]
            kc = fpar[i] * exo[m, t, 1, i]  # kappa = d_i^3 c_i(t)
            ikc = 1.0 / kc
            s_tot = 0.0
            e_tot = 0.0
            expired = 0
            for k in range(ti + 1):
                a = np.float64(action[j + k])
                if a < -1.0:
                    a = -1.0
                elif a > 1.0:
                    a = 1.0
                e = e_max * (a + 1.0) * 0.5
                n = q[m, i, k]
                left = 0
                if n > 0:
                    s = 0
                    if e > 0.0:
                        if n <= _PER_PACKET_MAX:
                            s, st = _bernoulli_count(n, e, kc, e * ikc, st)
                        else:
                            st += gamma
                            u = np.int64(_mix53(st)) * (1.0 / _TWO53)
                            s = binomial_from_uniform(n, _success_prob(e, kc), u)
                    s_tot += s
                    e_tot += e * n
                    left = n - s
                # counters are visited in ascending k, so index k - 1 has already been consumed
                if k == 0:
                    expired = left
                else:
                    q[m, i, k - 1] = left
                    obs[o + k - 1] = left
            arr = exo[m, t, 0, i]
            q[m, i, ti] = arr
            obs[o + ti] = arr
            r = fpar[n_users + i] * s_tot - lam * e_tot
            info[4 * m, i] = s_tot
            info[4 * m + 1, i] = e_tot
            info[4 * m + 2, i] = expired
            info[4 * m + 3, i] = r
            total += r
            j += ti + 1
            o += ti + 1
        rng_state[m] = st
        if D > B:
            for i in range(n_users):
                obs[o + i] = exo[m, t + 1, 2, i]
    return total


@nb.njit(cache=True)
def begin_episode(q, exo, B, obs):
    """Empty the counters (spec §1.2: queues start empty) and write the first observations into
    ``obs`` (M D,): B zeros, then the shown channel c(0) if there is room (D > B, fully observed)."""
    M = q.shape[0]
    n = q.shape[1]
    D = obs.shape[0] // M
    q[:] = 0
    for m in range(M):
        for j in range(B):
            obs[m * D + j] = 0.0
        if D > B:
            for i in range(n):
                obs[m * D + B + i] = exo[m, 0, 2, i]


@nb.njit(cache=True, inline="always")
def _uniform(raw):
    """numpy's double from a 64-bit output (PCG64 and the other 64-bit bit generators):
    (x >> 11) / 2^53, so ``raw`` drawn by ``random_raw`` gives exactly ``Generator.random``'s values."""
    return np.float64(np.int64(raw >> np.uint64(11))) * (1.0 / _TWO53)


@nb.njit(cache=True)
def draw_exogenous(raw, cdf, guide, arrs, cum, c0cum, exo, copy_shown):
    """Fill ``exo`` (M, H + 1, 3, N) with one reset's arrivals and Markov channel paths.

    ``raw`` are 64-bit generator outputs, read as uniforms u = (x >> 11) / 2^53 (exactly numpy's
    ``Generator.random``). Arrivals: if ``cdf`` has rows, they are exact inverse-CDF draws from the
    first M N H uniforms (in (M, N, H) order), a = #{k : u >= cdf[i, k]} started from the guide table
    (Chen and Asau), which needs cdf[i, -1] = 1; otherwise they are copied from ``arrs`` (M, N, H).
    Channels (spec §1.4): the next M N (H + 1) uniforms, in (M N, H + 1) order, give
    c(0) = 1 + #{c < N_c - 1 : u > c0cum[i, c]} and c(t) = 1 + #{c < N_c - 1 : u > cum[i, c(t-1) - 1, c]},
    the inverse CDF of the kernel row (a count, as the cumulative rows are non-decreasing, so no
    data-dependent branch). The shown channel is a copy of the true one when ``copy_shown``.
    """
    M = exo.shape[0]
    H = exo.shape[1] - 1
    n = exo.shape[3]
    # slots outer, users inner: the users' draws (and Markov chains) are independent, so the CPU
    # overlaps them; the uniforms are read in the documented order
    off = 0
    if cdf.shape[0] > 0:
        G = guide.shape[1]
        for m in range(M):
            base = m * n * H
            for t in range(H):
                for i in range(n):
                    x = _uniform(raw[base + i * H + t])
                    k = guide[i, int(x * G)]
                    # two branch-free steps cover nearly every draw, then the loop finishes the rest
                    k += np.int64(x >= cdf[i, k])
                    k += np.int64(x >= cdf[i, k])
                    while x >= cdf[i, k]:
                        k += 1
                    exo[m, t, 0, i] = k
        off = M * n * H
    else:
        for m in range(M):
            for t in range(H):
                for i in range(n):
                    exo[m, t, 0, i] = arrs[m, i, t]
    nc1 = cum.shape[-1] - 1
    for m in range(M):
        base = off + m * n * (H + 1)
        for i in range(n):
            exo[m, H, 0, i] = 0
            x = _uniform(raw[base + i * (H + 1)])
            s = 0
            for c in range(nc1):
                s += np.int64(x > c0cum[i, c])
            exo[m, 0, 1, i] = s + 1
        for t in range(1, H + 1):
            for i in range(n):
                x = _uniform(raw[base + i * (H + 1) + t])
                prev = exo[m, t - 1, 1, i] - 1
                s = 0
                for c in range(nc1):
                    s += np.int64(x > cum[i, prev, c])
                exo[m, t, 1, i] = s + 1
    if copy_shown:
        for m in range(M):
            for t in range(H + 1):
                for i in range(n):
                    exo[m, t, 2, i] = exo[m, t, 1, i]
