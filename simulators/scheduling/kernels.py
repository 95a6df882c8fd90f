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

The single env (:func:`step_env`) passes the same state packed into int64 arrays, so that a step
unboxes two arrays (the state and the action) instead of eight: ``state`` (persistent) = a header
(N, K, H, D, M, B, the address of the episode array), then ``q``, ``rng_state``, ``tau`` and
``fpar`` (bit patterns; :func:`state_layout`), of which ``BatchCore``'s arrays are views, the user
of each counter, then the step's scratch; ``episode`` (fresh at each reset, :func:`bind_episode`)
= ``exo``, then the per-slot outputs of the episode, ``info`` (4, H, N) float64 and the
observations (H, D) float32 (:func:`episode_layout`).

A slot (:func:`_slot`) first computes every counter's energy, e / kappa and success bounds, eight
counters per vector (:func:`_bracket8`), then walks the users and counters in order, drawing each
counter's packets eight per vector (:func:`_count8`). Transmissions are exact: one Bernoulli draw
per packet for counters of <= 12 packets, else the binomial inverse CDF from one uniform; uniforms
are k / 2^53 with k the top 53 bits of a splitmix64 output. The vector code is LLVM IR performing
the scalar code's IEEE operations in the same order, so results do not depend on the vector width
the CPU offers (``tests/simulators/scheduling/test_reference.py`` pins them to a per-packet Python
reference).
"""

from __future__ import annotations

import numba as nb
import numpy as np
from llvmlite import ir
from numba.core import cgutils, types
from numba.extending import intrinsic

__all__ = [
    "binomial_from_uniform",
    "bind_episode",
    "channel_thresholds",
    "draw_exogenous",
    "begin_episode",
    "episode_layout",
    "state_layout",
    "step_env",
    "step_slot",
]

_BINOM_EXACT_MAX = 1000
_PER_PACKET_MAX = 12
_TWO53 = 9007199254740992.0
_GAMMA = 0x9E3779B97F4A7C15  # splitmix64's increment
_M64 = (1 << 64) - 1
_GAMMA8 = np.uint64((8 * _GAMMA) & _M64)


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


def _splat8(builder, x):
    """LLVM IR: the scalar ``x`` in all eight lanes of a vector."""
    i32 = ir.IntType(32)
    vt = ir.VectorType(x.type, 8)
    v = builder.insert_element(ir.Constant(vt, ir.Undefined), x, ir.Constant(i32, 0))
    return builder.shuffle_vector(v, ir.Constant(vt, ir.Undefined), ir.Constant(ir.VectorType(i32, 8), [0] * 8))


@intrinsic
def _count8(typingctx, st, count, z_lo, z_hi):
    """(#{j : k_j < z_lo}, #{j : k_j < z_hi}) over the packets j = 1..min(count, 8), k_j the 53-bit
    output (:func:`_mix53`) of the splitmix64 state st + j gamma, compared as doubles (exact: k_j <
    2^53): the eight outputs as one vector (LLVM IR), the counts as popcounts of the comparison masks
    (no per-packet loop or branch)."""
    if not (
        isinstance(st, types.Integer)
        and isinstance(count, types.Integer)
        and isinstance(z_lo, types.Float)
        and isinstance(z_hi, types.Float)
    ):
        return None
    sig = types.UniTuple(types.int64, 2)(types.uint64, types.int64, types.float64, types.float64)

    def codegen(context, builder, signature, args):
        st, count, lo, hi = args
        i64, i8 = ir.IntType(64), ir.IntType(8)
        v8 = ir.VectorType(i64, 8)

        def const(c):
            return ir.Constant(v8, [c] * 8)

        z = builder.add(_splat8(builder, st), ir.Constant(v8, [(j * _GAMMA) & _M64 for j in range(1, 9)]))
        z = builder.mul(builder.xor(z, builder.lshr(z, const(30))), const(0xBF58476D1CE4E5B9))
        z = builder.mul(builder.xor(z, builder.lshr(z, const(27))), const(0x94D049BB133111EB))
        k = builder.lshr(builder.xor(z, builder.lshr(z, const(31))), const(11))
        k = builder.sitofp(k, ir.VectorType(ir.DoubleType(), 8))
        valid = builder.icmp_signed("<", ir.Constant(v8, list(range(8))), _splat8(builder, count))
        ctpop = builder.module.declare_intrinsic("llvm.ctpop", [i8])
        counts = []
        for bound in (lo, hi):
            below = builder.and_(builder.fcmp_ordered("<", k, _splat8(builder, bound)), valid)
            counts.append(builder.zext(builder.call(ctpop, [builder.bitcast(below, i8)]), i64))
        return context.make_tuple(builder, signature.return_type, counts)

    return sig, codegen


@nb.njit(cache=True, inline="always")
def _bernoulli_count(n, e, kc, x, z_lo, z_hi, st):
    """Successes among ``n`` <= 16 packets, one Bernoulli(p) per packet with p = :func:`_success_prob`
    (eq. (5)), and the advanced splitmix64 state: packet j succeeds iff k_j < p 2^53, k_j the 53-bit
    output of state st + j gamma, i.e. u_j = k_j / 2^53 < p.

    Exactly that count, but p (an expm1 and two divisions, most of a step's time if done for every
    counter) is only computed when a draw falls between z_lo = lo (1 - 1e-12) 2^53 and
    z_hi = hi (1 + 1e-12) 2^53, (lo, hi) the bounds of :func:`tanh_bracket` at x = e / kappa
    (computed as e (1 / kappa), a few ulps off; :func:`_counter_params`): a draw k (an integer below
    2^53) succeeds surely if k < z_lo and fails surely if k >= z_hi, so with s draws below z_lo and
    s_hi below z_hi, s_hi = s decides every packet.
    """
    gamma = np.uint64(_GAMMA)
    if 1e-200 < x <= 1.0:
        s, s_hi = _count8(st, n, z_lo, z_hi)
        if n > 8:
            s2, s2_hi = _count8(st + _GAMMA8, n - 8, z_lo, z_hi)
            s += s2
            s_hi += s2_hi
        if s_hi == s:
            return s, st + np.uint64(n) * gamma
    # exact: u = k / 2^53 < p  <=>  k < ceil(p 2^53), an integer comparison, counted without a branch
    thr = np.uint64(np.ceil(_success_prob(e, kc) * _TWO53))
    s = 0
    for _ in range(n):
        st += gamma
        s += np.int64(_mix53(st) < thr)
    return s, st


@nb.njit(cache=True, inline="always")
def _transmit(n, e, x, z_lo, z_hi, kc, st):
    """One counter of ``n`` packets at per-packet energy ``e`` (:func:`_counter_params`):
    s ~ Binomial(n, p) with p = tanh(e / kappa) (eqs. (1), (5)) from the splitmix64 state ``st`` (no
    draw when n = 0 or e = 0). Returns (s, st advanced past the draws)."""
    s = 0
    if n > 0 and e > 0.0:
        if n <= _PER_PACKET_MAX:
            s, st = _bernoulli_count(n, e, kc, x, z_lo, z_hi, st)
        else:
            st += np.uint64(_GAMMA)
            u = np.int64(_mix53(st)) * (1.0 / _TWO53)
            s = binomial_from_uniform(n, _success_prob(e, kc), u)
    return s, st


_C_LO = (1.0 - _MARGIN) * _TWO53
_C_HI = (1.0 + _MARGIN) * _TWO53


@nb.njit(cache=True, inline="always")
def _counter_params(a, e_max, ikc, sc, row, g):
    """Counter g's action a: clip to [-1, 1], e = e_max (a + 1)/2 (spec §1.2 (ii)), x = e / kappa (as
    e (1 / kappa)) and the success bounds z_lo, z_hi of :func:`_bernoulli_count` (from
    :func:`tanh_bracket` at min(x, 1); used only when x <= 1) into ``sc`` rows 0..3 (``row`` apart).
    Returns whether a is NaN."""
    a = np.float64(a)
    nan = a != a
    a = -1.0 if a < -1.0 else a  # selects, not branches (random actions would mispredict)
    a = 1.0 if a > 1.0 else a
    e = e_max * (a + 1.0) * 0.5
    x = e * ikc
    lo, hi = tanh_bracket(1.0 if x > 1.0 else x)
    U = np.uint64
    sc[U(g)] = e
    sc[U(row + g)] = x
    sc[U(2 * row + g)] = lo * _C_LO
    sc[U(3 * row + g)] = hi * _C_HI
    return nan


def _bracket8_codegen(context, builder, signature, args):
    """:func:`_counter_params` of eight contiguous counters as vectors (the same IEEE operations in
    the same order, so bit-identical)."""
    a_ty, _, fu_ty, _, ikc_ty, _, sc_ty, _, _, _ = signature.args
    action, f, fu, fu_off, ikc, ikc_off, sc, row, g, e_max = args
    f64, i64, i32 = ir.DoubleType(), ir.IntType(64), ir.IntType(32)
    v8f, v8i = ir.VectorType(f64, 8), ir.VectorType(i64, 8)
    add, mul = builder.fadd, builder.fmul

    def data(ty, val, offset):
        return builder.gep(context.make_array(ty)(context, builder, value=val).data, [offset])

    def c(x):
        return ir.Constant(v8f, [x] * 8)

    def below(x, bound):  # select(x < bound, bound, x)
        return builder.select(builder.fcmp_ordered("<", x, c(bound)), c(bound), x)

    def above(x, bound):  # select(x > bound, bound, x)
        return builder.select(builder.fcmp_ordered(">", x, c(bound)), c(bound), x)

    a_elt = context.get_data_type(a_ty.dtype)
    a_ptr = builder.bitcast(data(a_ty, action, f), ir.VectorType(a_elt, 8).as_pointer())
    a = builder.load(a_ptr, align=a_ty.dtype.bitwidth // 8)
    if a_elt != f64:
        a = builder.fpext(a, v8f)
    nan = builder.fcmp_unordered("uno", a, a)
    a = above(below(a, -1.0), 1.0)
    e = mul(mul(_splat8(builder, e_max), add(a, c(1.0))), c(0.5))  # e_max (a + 1) 0.5
    # 1 / kappa of each counter's user, gathered
    users = builder.load(builder.bitcast(data(fu_ty, fu, fu_off), v8i.as_pointer()), align=8)
    ikc_base = data(ikc_ty, ikc, ikc_off)
    ikcs = ir.Constant(v8f, ir.Undefined)
    for lane in range(8):
        user = builder.extract_element(users, ir.Constant(i32, lane))
        value = builder.load(builder.gep(ikc_base, [user]), align=8)
        ikcs = builder.insert_element(ikcs, value, ir.Constant(i32, lane))
    x = mul(e, ikcs)
    # tanh_bracket at min(x, 1): hi = x (1 + x2 (-1/3 + x2 2/15)), lo = hi - x x2 x2 x2 17/315
    xb = above(x, 1.0)
    x2 = mul(xb, xb)
    hi = mul(xb, add(c(1.0), mul(x2, add(c(-1.0 / 3.0), mul(x2, c(2.0 / 15.0))))))
    lo = builder.fsub(hi, mul(mul(mul(mul(xb, x2), x2), x2), c(17.0 / 315.0)))
    out = data(sc_ty, sc, g)
    for k, v in enumerate((e, x, mul(lo, c(_C_LO)), mul(hi, c(_C_HI)))):
        p = builder.gep(out, [builder.mul(row, ir.Constant(i64, k))])
        builder.store(v, builder.bitcast(p, v8f.as_pointer()), align=8)
    return builder.zext(builder.bitcast(nan, ir.IntType(8)), i64)


@intrinsic
def _bracket8(typingctx, action, f, fu, fu_off, ikc, ikc_off, sc, row, g, e_max):
    """:func:`_counter_params` of the counters f..f+7 of a contiguous ``action`` (float32 or float64):
    the users' 1 / kappa are ``ikc[ikc_off + fu[fu_off + l]]``, the results go to ``sc`` rows 0..3
    (``row`` apart) at g..g+7. Returns a bit mask of the NaN actions. The caller checks that the
    eight actions are contiguous and in bounds."""
    ok = (
        isinstance(action, types.Array)
        and action.ndim == 1
        and action.dtype in (types.float32, types.float64)
        and isinstance(fu, types.Array)
        and fu.dtype == types.int64
        and all(isinstance(arr, types.Array) and arr.dtype == types.float64 for arr in (ikc, sc))
    )
    if not ok:
        return None
    i64 = types.int64
    sig = i64(action, i64, fu, i64, ikc, i64, sc, i64, i64, types.float64)
    return sig, _bracket8_codegen


@nb.njit(cache=True, inline="always")
def _prologue(action, M, B, N, e_max, fu, ikc, sc):
    """:func:`_counter_params` of every counter of the M episodes into ``sc`` (4 rows of M B), eight at
    a time (:func:`_bracket8`) when the actions are contiguous; the user of counter f is ``fu[f]``,
    its 1 / kappa ``ikc[m N + fu[f]]``. Returns whether an action is NaN (nothing else is written)."""
    U = np.uint64
    R = M * B
    bad = False
    if action.strides[0] == action.itemsize:
        B8 = B - B % 8
        for m in range(M):
            for f in range(0, B8, 8):
                bad |= _bracket8(action, m * B + f, fu, f, ikc, m * N, sc, R, m * B + f, e_max) != 0
            for f in range(B8, B):
                g = m * B + f
                bad |= _counter_params(action[U(g)], e_max, ikc[U(m * N + fu[U(f)])], sc, R, g)
    else:
        for m in range(M):
            for f in range(B):
                g = m * B + f
                bad |= _counter_params(action[U(g)], e_max, ikc[U(m * N + fu[U(f)])], sc, R, g)
    return bad


@nb.njit(cache=True, inline="always")
def _slot(t, M, N, K, H, D, q, rng_state, exo, tau, fpar, action, info, io, irow, obs, oo, fu, ikc, sc):
    """Slot ``t`` of M lock-step episodes on flat (1-D) arrays: ``q`` (M N K), ``exo`` (M (H + 1) 3 N),
    ``info`` written at ``io`` + (4 m + row) ``irow`` + i, ``obs`` at ``oo`` + m D + j (see
    :func:`step_slot`); ``fu`` (B,) the user of each counter; scratch ``ikc`` (M N,), ``sc`` (4 M B,).

    First every counter's energy and success bounds (:func:`_prologue`, vectorised), then the users
    in order. Indices are cast to unsigned (all are >= 0), which spares Numba's negative-index
    wraparound.
    """
    U = np.uint64
    B = action.shape[0] // M
    R = M * B
    e_max = fpar[U(2 * N)]
    lam = fpar[U(2 * N + 1)]
    for m in range(M):
        et = (m * (H + 1) + t) * 3 * N  # exo[m, t, 0, 0]
        for i in range(N):
            ikc[U(m * N + i)] = 1.0 / (fpar[U(i)] * exo[U(et + N + i)])  # 1 / kappa, kappa = d_i^3 c_i(t)
    if _prologue(action, M, B, N, e_max, fu, ikc, sc):
        return np.nan
    total = 0.0
    for m in range(M):
        st = rng_state[U(m)]  # the episode's splitmix64 state, kept in a register for this slot
        g = m * B  # counter index (global buffer of episode m)
        o = oo + m * D
        qm = m * N * K
        et = (m * (H + 1) + t) * 3 * N
        im = io + 4 * m * irow
        for i in range(N):
            ti = tau[U(i)]
            kc = fpar[U(i)] * exo[U(et + N + i)]
            qi = qm + i * K
            # counter k = 0: what is not delivered now expires (eq. (3))
            n = q[U(qi)]
            e = sc[U(g)]
            s, st = _transmit(n, e, sc[U(R + g)], sc[U(2 * R + g)], sc[U(3 * R + g)], kc, st)
            s_tot = s  # an integer sum, exact (as a float sum of integers below 2^53 is)
            e_tot = e * n
            expired = n - s
            # counters are visited in ascending k, so index k - 1 has already been consumed
            for k in range(1, ti + 1):
                n = q[U(qi + k)]
                gk = g + k
                e = sc[U(gk)]
                s, st = _transmit(n, e, sc[U(R + gk)], sc[U(2 * R + gk)], sc[U(3 * R + gk)], kc, st)
                s_tot += s
                e_tot += e * n
                left = n - s
                q[U(qi + k - 1)] = left
                obs[U(o + k - 1)] = left
            arr = exo[U(et + i)]
            q[U(qi + ti)] = arr
            obs[U(o + ti)] = arr
            sf = np.float64(s_tot)
            r = fpar[U(N + i)] * sf - lam * e_tot
            info[U(im + i)] = sf
            info[U(im + irow + i)] = e_tot
            info[U(im + 2 * irow + i)] = expired
            info[U(im + 3 * irow + i)] = r
            total += r
            g += ti + 1
            o += ti + 1
        rng_state[U(m)] = st
        if D > B:
            en = et + 5 * N  # exo[m, t + 1, 2, 0]
            for i in range(N):
                obs[U(o + i)] = exo[U(en + i)]
    return total


@nb.njit(cache=True, inline="always")
def _fill_users(tau, fu):
    """``fu[f]`` = the user of counter f of the global buffer (user-major, tau_i + 1 counters each)."""
    f = 0
    for i in range(tau.shape[0]):
        for _ in range(tau[i] + 1):
            fu[f] = i
            f += 1


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
    ``q``, ``exo``, ``info`` and ``obs`` must be C-contiguous (they are read and written flat), the
    actions float32 or float64.
    """
    M, N, K = q.shape
    H = exo.shape[1] - 1
    B = action.shape[0] // M
    fu = np.empty(B, dtype=np.int64)
    _fill_users(tau, fu)
    return _slot(
        t,
        M,
        N,
        K,
        H,
        obs.shape[0] // M,
        q.reshape(q.size),
        rng_state,
        exo.reshape(exo.size),
        tau,
        fpar,
        action,
        info.reshape(info.size),
        0,
        N,
        obs,
        0,
        fu,
        np.empty(M * N),
        np.empty(4 * M * B),
    )


@intrinsic
def _void_ptr(typingctx, address):
    """The integer ``address`` as a ``void *`` (for :func:`numba.carray`)."""
    if not isinstance(address, types.Integer):
        return None

    def codegen(context, builder, signature, args):
        return builder.inttoptr(args[0], cgutils.voidptr_t)

    return types.voidptr(address), codegen


@nb.njit(cache=True, inline="always")
def _at(address, offset, size, dtype):
    """``size`` items of ``dtype`` from word ``offset`` of the int64 words at ``address``: a view
    without a reference count (the caller guarantees the memory is alive for the whole call)."""
    return nb.carray(_void_ptr(address + np.uint64(8 * offset)), size, dtype)


@nb.njit(cache=True, inline="always")
def _region(arr, offset, size, dtype):
    """:func:`_at` in the int64 array ``arr`` (the caller's argument, alive for the whole call)."""
    return _at(arr.ctypes.data, offset, size, dtype)


_HEADER = 8


@nb.njit(cache=True)
def state_layout(M, N, K, B):
    """Word offsets of ``q``, ``rng_state``, ``tau``, ``fpar``, the user of each counter ``fu`` and
    the step's scratch (``ikc``, ``sc``: :func:`_slot`) in the packed state, and its length."""
    oq = _HEADER
    orng = oq + M * N * K
    otau = orng + M
    ofpar = otau + N
    ofu = ofpar + 2 * N + 2
    oikc = ofu + B
    osc = oikc + M * N
    return oq, orng, otau, ofpar, ofu, oikc, osc, osc + 4 * M * B


@nb.njit(cache=True)
def episode_layout(M, N, H, D, outputs):
    """Word offsets of ``exo``, the ``info`` outputs (4, H, N) and the observation outputs (H, D) in an
    episode array (the outputs only if ``outputs``, for one episode), and its length."""
    oinfo = M * (H + 1) * 3 * N
    if not outputs:
        return 0, oinfo, oinfo, oinfo
    oobs = oinfo + H * 4 * N
    return 0, oinfo, oobs, oobs + (H * D + 1) // 2


@nb.njit(cache=True)
def bind_episode(state, episode):
    """Record the address of the int64 array ``episode`` in the header of ``state`` (word 6), where
    :func:`step_env` finds it; the caller keeps ``episode`` alive while it is bound."""
    state[6] = np.int64(episode.ctypes.data)


@nb.njit(cache=True)
def step_env(t, state, action):
    """:func:`step_slot` for one episode packed in ``state`` and the episode array bound to it
    (:func:`bind_episode`; layout above): slot ``t`` writes its ``info`` rows (S, E, D, r at [:, t])
    and next observation (row t) into the episode's outputs. Returns the reward, or NaN (and changes
    nothing) if an action is NaN or there are not B actions. ``action`` (float32 or float64) may have
    any stride."""
    N = state[0]
    K = state[1]
    H = state[2]
    D = state[3]
    B = state[5]
    if action.shape[0] != B:
        return np.nan
    oq, orng, otau, ofpar, ofu, oikc, osc, _ = state_layout(1, N, K, B)
    oexo, oinfo, oobs, _ = episode_layout(1, N, H, D, True)
    ep = np.uint64(state[6])
    return _slot(
        t,
        1,
        N,
        K,
        H,
        D,
        _region(state, oq, N * K, np.int64),
        _region(state, orng, 1, np.uint64),
        _at(ep, oexo, (H + 1) * 3 * N, np.int64),
        _region(state, otau, N, np.int64),
        _region(state, ofpar, 2 * N + 2, np.float64),
        action,
        _at(ep, oinfo, H * 4 * N, np.float64),
        t * N,
        H * N,
        _at(ep, oobs, H * D, np.float32),
        t * D,
        _region(state, ofu, B, np.int64),
        _region(state, oikc, N, np.float64),
        _region(state, osc, 4 * B, np.float64),
    )


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


def channel_thresholds(cum: np.ndarray) -> np.ndarray:
    """floor(cum[..., :-1] 2^53) as int64, the integer form of the channel kernels' cumulative rows
    that :func:`draw_exogenous` compares the draws with (exact: 2^53 scales a double exactly)."""
    return np.ascontiguousarray(np.floor(cum[..., :-1] * _TWO53).astype(np.int64))


@nb.njit(cache=True)
def draw_exogenous(raw, cdf, guide, arrs, cum_k, c0cum, exo, copy_shown):
    """Fill ``exo`` (M, H + 1, 3, N) with one reset's arrivals and Markov channel paths.

    ``raw`` are 64-bit generator outputs, read as uniforms u = (x >> 11) / 2^53 (exactly numpy's
    ``Generator.random``). Arrivals: if ``cdf`` has rows, they are exact inverse-CDF draws from the
    first M N H uniforms (in (M, N, H) order), a = #{k : u >= cdf[i, k]} started from the guide table
    (Chen and Asau), which needs cdf[i, -1] = 1; otherwise they are copied from ``arrs`` (M, N, H).
    Channels (spec §1.4): the next M N (H + 1) uniforms, in (M N, H + 1) order, give
    c(0) = 1 + #{c < N_c - 1 : u > c0cum[i, c]} and c(t) = 1 + #{c < N_c - 1 : u > cum[i, c(t-1) - 1, c]},
    the inverse CDF of the kernel row (a count, as the cumulative rows are non-decreasing, so no
    data-dependent branch), compared as integers: with u = k / 2^53, u > cum <=> k > floor(cum 2^53)
    = ``cum_k`` (N, N_c, N_c - 1) (:func:`channel_thresholds`). The shown channel is a copy of the
    true one when ``copy_shown``.
    """
    U = np.uint64  # indices are >= 0: unsigned ones spare Numba's negative-index wraparound
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
                    x = _uniform(raw[U(base + i * H + t)])
                    k = guide[U(i), U(np.int64(x * G))]
                    # the guide entry is nearly always the answer: a loop that rarely runs (a
                    # well-predicted branch) is cheaper than unconditional steps
                    while x >= cdf[U(i), U(k)]:
                        k += 1
                    exo[U(m), U(t), 0, U(i)] = k
        off = M * n * H
    else:
        for m in range(M):
            for t in range(H):
                for i in range(n):
                    exo[m, t, 0, i] = arrs[m, i, t]
    nc1 = cum_k.shape[-1]
    for m in range(M):
        base = off + m * n * (H + 1)
        for i in range(n):
            exo[U(m), U(H), 0, U(i)] = 0
            x = _uniform(raw[U(base + i * (H + 1))])
            s = 1
            for c in range(nc1):
                s += np.int64(x > c0cum[U(i), U(c)])
            exo[U(m), 0, 1, U(i)] = s
            if copy_shown:
                exo[U(m), 0, 2, U(i)] = s
        for t in range(1, H + 1):
            for i in range(n):
                k = np.int64(raw[U(base + i * (H + 1) + t)] >> np.uint64(11))
                prev = exo[U(m), U(t - 1), 1, U(i)] - 1
                s = 1
                for c in range(nc1):
                    s += np.int64(k > cum_k[U(i), U(prev), U(c)])
                exo[U(m), U(t), 1, U(i)] = s
                if copy_shown:
                    exo[U(m), U(t), 2, U(i)] = s
