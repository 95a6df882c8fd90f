"""The fast scheduling env equals a slow per-packet Python reference step for step (RSD4 spec §1).

The reference re-derives every episode from the seed with numpy's public calls (the arrival
process's ``sample_many``, ``rng.random`` for the channels and sensing noise, ``rng.integers`` for
the transmission seeds), then plays each slot packet by packet in plain Python: eq. (5) as
``math.tanh``, one splitmix64 uniform per packet (the binomial inverse CDF from one uniform above 12
packets), eqs. (1)-(3) and (8). Observations, queues, rewards and the per-user S, E, D must be
bit-identical, so the speed work on the kernels (one fused reset draw, lazily evaluated success
probabilities, the compiled entry point) cannot change the dynamics unnoticed.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from simulators.scheduling import SchedulingEnv, make_instance
from simulators.scheduling.channels import initial_law
from simulators.scheduling.core import _lemire_seeds
from simulators.scheduling.env import binomial_from_uniform
from simulators.scheduling.kernels import _MARGIN, _success_prob, tanh_bracket
from simulators.scheduling.vector import SchedulingBatch

MASK = (1 << 64) - 1
GAMMA = 0x9E3779B97F4A7C15


def mix53(z: int) -> int:
    """splitmix64's output function, top 53 bits (u = k / 2^53)."""
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return (z ^ (z >> 31)) >> 11


class ReferenceEpisodes:
    """M episodes of one instance, drawn and stepped in plain Python from a numpy Generator."""

    def __init__(self, inst, M: int, partial: bool, obs_noise: float, lam: float) -> None:
        self.inst, self.M, self.partial, self.obs_noise, self.lam = inst, M, partial, obs_noise, lam
        self.n, self.H = inst.n_users, inst.horizon
        self.tau = [int(x) for x in inst.tau]

    def reset(self, rng: np.random.Generator, split: str = "train") -> list[list[float]]:
        inst, M, n, H = self.inst, self.M, self.n, self.H
        self.arr = inst.arrivals.sample_many(rng, M, H, split=split)  # (M, N, H)
        u = rng.random((M * n, H + 1))
        cum = np.cumsum(inst.kernels, axis=-1)
        c0 = np.cumsum(initial_law(inst.kernels, inst.channel_start), axis=-1)
        nc = inst.n_channels
        chans = np.zeros((M, n, H + 1), dtype=np.int64)
        for m in range(M):
            for i in range(n):
                row = u[m * n + i]
                s = 0
                while s < nc - 1 and row[0] > c0[i, s]:
                    s += 1
                chans[m, i, 0] = s + 1
                for t in range(1, H + 1):
                    prev, s = s, 0
                    while s < nc - 1 and row[t] > cum[i, prev, s]:
                        s += 1
                    chans[m, i, t] = s + 1
        self.chans = chans
        self.shown = chans
        if self.obs_noise > 0:
            swap = rng.random((M, n, H + 1)) < self.obs_noise
            rand_c = rng.integers(1, nc + 1, size=(M, n, H + 1))
            self.shown = np.where(swap, rand_c, chans)
        self.st = [int(x) for x in rng.integers(0, np.iinfo(np.int64).max, size=M, dtype=np.int64)]
        self.q = [[[0] * (tau + 1) for tau in self.tau] for _ in range(M)]
        self.t = 0
        return [self._obs(m) for m in range(M)]

    def _obs(self, m: int) -> list[float]:
        out = [float(x) for qi in self.q[m] for x in qi]
        if not self.partial:
            out += [float(self.shown[m, i, self.t]) for i in range(self.n)]
        return out

    def step(self, actions: np.ndarray) -> tuple[list, list[float], list]:
        """One slot of every episode: (observations, rewards, per-episode [S, E, D, r] per user)."""
        inst, t = self.inst, self.t
        rewards, infos = [], []
        for m in range(self.M):
            a_flat = [float(x) for x in np.asarray(actions[m], dtype=np.float64)]
            j = 0
            total = 0.0
            S, E, D, R = [], [], [], []
            for i, tau in enumerate(self.tau):
                kappa = float(inst.dist[i]) ** 3 * float(self.chans[m, i, t])
                q_new = [0] * (tau + 1)
                s_i, e_i, d_i = 0.0, 0.0, 0
                for k in range(tau + 1):
                    e = inst.e_max * (min(max(a_flat[j + k], -1.0), 1.0) + 1.0) * 0.5
                    n = self.q[m][i][k]
                    s = 0
                    if n > 0 and e > 0:
                        p = math.tanh(e / kappa)  # eq. (5)
                        if n <= 12:
                            for _ in range(n):
                                self.st[m] = (self.st[m] + GAMMA) & MASK
                                s += mix53(self.st[m]) / 2.0**53 < p
                        else:
                            self.st[m] = (self.st[m] + GAMMA) & MASK
                            s = binomial_from_uniform(n, p, mix53(self.st[m]) / 2.0**53)
                    s_i += s
                    e_i += e * n
                    if k == 0:
                        d_i = n - s  # eq. (3): the head expires
                    else:
                        q_new[k - 1] = n - s  # eq. (2)
                q_new[tau] = int(self.arr[m, i, t])
                self.q[m][i] = q_new
                r = float(inst.beta[i]) * s_i - self.lam * e_i  # eq. (8)
                total += r
                S.append(s_i)
                E.append(e_i)
                D.append(float(d_i))
                R.append(r)
                j += tau + 1
            rewards.append(total)
            infos.append([S, E, D, R])
        self.t += 1
        return [self._obs(m) for m in range(self.M)], rewards, infos


CASES = [
    ("poisson, observed", dict(preset="code", n_users=6), {}),
    ("poisson, hidden channel, sticky", dict(preset="code", n_users=4, rho=0.9), {"partial": True}),
    ("poisson, sensing noise", dict(preset="bench"), {"obs_noise": 0.25}),
    ("bernoulli (generic arrivals)", dict(preset="tiny"), {}),
    ("mmpp, stationary start", dict(preset="code", n_users=3, arrival="mmpp", channel_start="stationary"), {}),
    ("crowded (binomial path)", dict(preset="code", n_users=3, rate_range=(25, 30), horizon=30), {}),
]


@pytest.mark.parametrize(("name", "inst_kw", "env_kw"), CASES, ids=[c[0] for c in CASES])
def test_env_equals_per_packet_reference_step_for_step(name, inst_kw, env_kw):
    inst = make_instance(3, **inst_kw)
    lam = 0.7
    env = SchedulingEnv(inst, lam=lam, **env_kw)
    ref = ReferenceEpisodes(inst, 1, env_kw.get("partial", False), env_kw.get("obs_noise", 0.0), lam)
    act_rng = np.random.default_rng(11)
    for episode, seed in enumerate([5, None, 6]):  # reset(seed=None) continues the generator
        obs, _ = env.reset(seed=seed)
        if seed is not None:
            ref_rng = np.random.default_rng(seed)
        ref_obs = ref.reset(ref_rng)
        assert obs.tolist() == ref_obs[0]
        assert np.array_equal(env.arrivals, ref.arr[0])
        for t in range(env.horizon):
            # out-of-range actions get clipped; float32 and float64 actions take separate kernels
            a = act_rng.uniform(-1.3, 1.3, env.buffer_size).astype(np.float32 if t % 2 else np.float64)
            if t % 3 == 2:
                a = np.repeat(a, 2)[::2]  # a strided (non-contiguous) action, passed to the kernel as is
            obs, r, term, trunc, info = env.step(a)
            ref_obs, ref_r, ref_info = ref.step(a[None])
            assert obs.dtype == np.float32 and obs.tolist() == ref_obs[0], (name, episode, t)
            assert r == ref_r[0], (name, episode, t)
            for key, row in zip(("S", "E", "D", "reward"), ref_info[0]):
                assert info[key].tolist() == row, (name, episode, t, key)
            assert info["channel"].tolist() == ref.chans[0, :, t].tolist()
            assert env.queues[env.mask].tolist() == [x for qi in ref.q[0] for x in qi]
            assert trunc == (t == env.horizon - 1) and not term


def test_vectorised_step_equals_reference_on_edge_cases():
    """The step computes eight counters' energies and success bounds per vector (scalar for the last
    B mod 8 counters and for strided actions) and draws eight packets per vector (sixteen for 9-12
    packets), falling back to exact scalar paths: e / kappa > 1 (e_max = 4), draws near p (unsure),
    more than 12 packets (binomial). Edge actions: -1 (no energy, no draw), clipped, infinite, -0.0;
    float32 and float64, contiguous and strided. All must equal the per-packet reference bit for bit."""
    inst = make_instance(5, "code", n_users=7, tau_range=(1, 7), rate_range=(4, 14), e_max=4.0, horizon=40)
    lam = 0.3
    env = SchedulingEnv(inst, lam=lam)
    assert env.buffer_size % 8 != 0 and env.buffer_size > 16  # full vectors and a scalar tail
    ref = ReferenceEpisodes(inst, 1, False, 0.0, lam)
    rng = np.random.default_rng(12)
    special = np.array([-np.inf, np.inf, -0.0, 0.0, -1.0, 1.0, -1.0, -1.5, 1.5, -0.999, np.nextafter(-1.0, 0.0)])
    seen = {"9-12 packets": 0, "more than 12": 0, "e / kappa > 1": 0}
    for episode, seed in enumerate([1, 2]):
        obs, _ = env.reset(seed=seed)
        assert obs.tolist() == ref.reset(np.random.default_rng(seed))[0]
        for t in range(env.horizon):
            a = np.where(
                rng.random(env.buffer_size) < 0.3,
                rng.choice(special, env.buffer_size),
                rng.uniform(-1.0, 0.2, env.buffer_size),
            )
            a = a.astype(np.float32 if t % 2 else np.float64)
            if t % 3 == 2:
                a = np.repeat(a, 2)[::2]  # strided: the scalar per-counter pass
            n = np.array([x for qi in ref.q[0] for x in qi])
            e = inst.e_max * (np.clip(a.astype(np.float64), -1, 1) + 1) / 2
            kappa = np.repeat(inst.dist**3 * ref.chans[0, :, t], inst.tau + 1)
            draws = (n > 0) & (e > 0)
            seen["9-12 packets"] += int((draws & (n > 8) & (n <= 12)).sum())
            seen["more than 12"] += int((draws & (n > 12)).sum())
            seen["e / kappa > 1"] += int((draws & (e / kappa > 1)).sum())
            obs, r, _, _, info = env.step(a)
            ref_obs, ref_r, ref_info = ref.step(a[None])
            assert obs.tolist() == ref_obs[0] and r == ref_r[0], (episode, t)
            for key, row in zip(("S", "E", "D", "reward"), ref_info[0]):
                assert info[key].tolist() == row, (episode, t, key)
    assert min(seen.values()) > 0, seen  # every path was taken


def test_batch_equals_per_packet_reference_step_for_step():
    inst = make_instance(4, "code", n_users=5)
    batch = SchedulingBatch(inst, 3, lam=0.4)
    ref = ReferenceEpisodes(inst, 3, False, 0.0, 0.4)
    act_rng = np.random.default_rng(2)
    obs = batch.reset(seed=9)
    assert obs.tolist() == ref.reset(np.random.default_rng(9))
    for _ in range(inst.horizon):
        a = act_rng.uniform(-1, 1, (3, batch.buffer_size))
        obs, r, _, info = batch.step(a)
        ref_obs, ref_r, ref_info = ref.step(a)
        assert obs.tolist() == ref_obs
        assert np.allclose(r, ref_r, rtol=0, atol=1e-9)  # numpy's pairwise sum of the same terms
        assert info["reward"].tolist() == [row[3] for row in ref_info]
        assert info["S"].tolist() == [row[0] for row in ref_info]


def test_transmission_seeds_reproduce_numpy_integers_including_a_rejection():
    """Lemire's method as numpy runs it: x r / 2^64 with r = 2^63 - 1, redrawing when the low 64 bits
    of x r are < 2 (x = 0 is such a draw: it is skipped and the following output used)."""
    r = (1 << 63) - 1
    rng = np.random.default_rng(8)
    raw = rng.bit_generator.random_raw(4)
    assert _lemire_seeds(rng, raw) == np.random.default_rng(8).integers(0, r, size=4, dtype=np.int64).tolist()
    after = np.random.default_rng(8)
    after.bit_generator.random_raw(4)
    assert rng.random() == after.random()  # the generator ends where numpy's would
    rng = np.random.default_rng(1)
    nxt = int(np.random.default_rng(1).bit_generator.random_raw())
    assert _lemire_seeds(rng, np.array([0, 5], dtype=np.uint64)) == [(5 * r) >> 64, (nxt * r) >> 64]


def test_env_pickles_mid_episode_and_continues_identically():
    import pickle

    env = SchedulingEnv(preset="code", n_users=4)
    env.reset(seed=1)
    a = np.zeros(env.buffer_size, dtype=np.float32)
    env.step(a)
    twin = pickle.loads(pickle.dumps(env))  # the compiled kernel is dropped and resolved again
    for _ in range(5):
        o1, r1, *_ = env.step(a)
        o2, r2, *_ = twin.step(a)
        assert r1 == r2 and np.array_equal(o1, o2)


def test_tanh_bracket_encloses_the_success_probability():
    """The kernel skips eq. (5) when a draw lies outside [lo, hi] (widened by the margin); that is
    exact only if p as computed lies inside, for x = e / kappa as computed (e times 1 / kappa)."""
    rng = np.random.default_rng(0)
    xs = np.concatenate([np.linspace(1e-9, 1.0, 4001), rng.uniform(0, 1, 4000), [1.0, 0.5, 1e-12]])
    for x in xs:
        lo, hi = tanh_bracket(x)
        assert lo * (1 - _MARGIN) <= math.tanh(x) <= hi * (1 + _MARGIN)  # bounds and tanh rounded
        assert lo * (1 - 1e-15) <= math.tanh(x) <= hi * (1 + 1e-15)  # ... by a few ulps at most
        assert hi - lo <= 17 / 315 * x**7 * (1 + 1e-9) + 1e-15 * hi  # the bracket is narrow
    for _ in range(3000):
        e, kc = rng.uniform(0, 1), rng.uniform(1, 32) * rng.integers(1, 5)
        lo, hi = tanh_bracket(e * (1.0 / kc))
        assert lo * (1 - _MARGIN) <= _success_prob(e, kc) <= hi * (1 + _MARGIN)
