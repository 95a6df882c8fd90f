"""Scheduling simulator: queue dynamics on hand-worked cases, success model, arrivals, channels,
observability variants, seeding, gymnasium API (RSD4 spec §1)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from scipy import stats

import simulators.scheduling as sch
from simulators.scheduling import (
    SchedulingEnv,
    SchedulingInstance,
    TraceArrivals,
    make_instance,
    success_prob,
    write_synthetic_trace_csv,
)
from simulators.scheduling.arrivals import MMPPArrivals, PeriodicArrivals, PoissonArrivals
from simulators.scheduling.channels import sample_channel_paths, stationary_distribution, sticky_kernel
from simulators.scheduling.env import binomial_from_uniform
from simulators.scheduling.vector import SchedulingBatch


def one_user_instance(trace_row, tau=2, beta=2.0, dist=1.0, horizon=4):
    """One user, one channel state (c = 1), deterministic arrivals from a trace whose train part is
    exactly ``horizon`` slots (so the episode window starts at slot 0)."""
    T = int(round(horizon / 0.8))
    row = np.zeros(T, dtype=int)
    row[: len(trace_row)] = trace_row
    arr = TraceArrivals(rates=np.zeros(1), trace=row[None, :])
    return SchedulingInstance(
        tau=[tau], beta=[beta], dist=[dist], arrivals=arr, kernels=np.ones((1, 1)), horizon=horizon, budget=1.0
    )


def test_success_probability_constants():
    # eq. (5): p = 2/(1 + exp(-2e/(d^3 c))) - 1 = tanh(e / kappa)
    assert success_prob(0.0, 1, 1) == 0.0
    assert success_prob(1.0, 1, 1) == pytest.approx(0.7615941559557649, abs=1e-12)
    assert success_prob(1.0, 4, 2) == pytest.approx(np.tanh(1 / 32), abs=1e-15)
    assert success_prob(1.0, 4, 2) == pytest.approx(0.0312398, abs=1e-6)
    e, c, d = 0.37, 3.0, 1.4
    assert success_prob(e, c, d) == pytest.approx(2 / (1 + np.exp(-2 * e / (d**3 * c))) - 1, rel=1e-12)


def test_hand_worked_queue_trace_shift_expiry_arrivals():
    """Arrivals 3, 0, 2, 1 with tau = 2 and zero energy (no successes), eqs. (2)-(3)."""
    env = SchedulingEnv(one_user_instance([3, 0, 2, 1]), lam=0.5)
    obs, _ = env.reset(seed=0)
    assert obs.tolist() == [0, 0, 0, 1]  # empty counters, then the channel state c = 1
    zero = env.energies_to_action(np.zeros(3))
    expected = [([0, 0, 3], 0), ([0, 3, 0], 0), ([3, 0, 2], 0), ([0, 2, 1], 3)]
    for t, (q, expired) in enumerate(expected):
        obs, r, term, trunc, info = env.step(zero)
        assert obs[:3].tolist() == q, f"slot {t}"
        assert info["D"][0] == expired and info["S"][0] == 0 and info["E"][0] == 0 and r == 0
        assert trunc == (t == 3) and not term


def test_transmission_energy_and_reward_accounting():
    env = SchedulingEnv(one_user_instance([3, 0, 2, 1]), lam=0.5)
    env.reset(seed=1)
    zero = env.energies_to_action(np.zeros(3))
    for _ in range(2):
        env.step(zero)
    # counters are now (0, 3, 0); give the 3 packets of counter 1 energy 0.8 each
    obs, r, _, _, info = env.step(env.energies_to_action(np.array([0.0, 0.8, 0.0])))
    s = info["S"][0]
    assert 0 <= s <= 3
    assert obs[:3].tolist() == [3 - s, 0, 2]  # survivors shift to index 0, arrivals enter index tau
    assert info["E"][0] == pytest.approx(3 * 0.8)  # energy is charged for every attempted packet (eq. (1))
    assert r == pytest.approx(2.0 * s - 0.5 * 2.4)  # eq. (8)
    assert info["reward"].sum() == pytest.approx(r)
    # last chance: counter 0 holds 3 - s packets; what fails now expires (eq. (3))
    obs, r, _, trunc, info = env.step(env.energies_to_action(np.array([1.0, 0.0, 0.0])))
    assert info["S"][0] + info["D"][0] == 3 - s
    assert obs[:3].tolist() == [0, 2, 1] and trunc


def test_success_rate_matches_eq5_statistically():
    inst = one_user_instance([50], tau=0, horizon=4)
    env = SchedulingEnv(inst)
    succ = 0
    n_ep = 400
    for ep in range(n_ep):
        env.reset(seed=ep)
        env.step(env.energies_to_action(np.zeros(1)))
        _, _, _, _, info = env.step(env.energies_to_action(np.ones(1)))  # 50 packets at e = 1, c = d = 1
        succ += info["S"][0]
    p_hat, p = succ / (50 * n_ep), np.tanh(1.0)
    assert abs(p_hat - p) < 4 * np.sqrt(p * (1 - p) / (50 * n_ep))


def test_binomial_inverse_cdf_is_exact():
    rng = np.random.default_rng(0)
    for n, p in [(30, 0.1), (30, 0.7), (200, 0.03)]:
        draws = np.array([binomial_from_uniform(n, p, u) for u in rng.random(20_000)])
        counts = np.bincount(draws, minlength=n + 1)
        expected = stats.binom.pmf(np.arange(n + 1), n, p) * draws.size
        keep = expected > 5
        chi2 = ((counts[keep] - expected[keep]) ** 2 / expected[keep]).sum() + 0.0
        assert stats.chi2.sf(chi2, keep.sum() - 1) > 1e-3


def test_per_user_rewards_sum_and_seeding():
    env = SchedulingEnv(preset="code", n_users=5, rho=0.5)
    rng = np.random.default_rng(3)
    actions = [rng.uniform(-1, 1, env.buffer_size) for _ in range(env.horizon)]

    def run(seed):
        obs, _ = env.reset(seed=seed)
        traj = [obs]
        for a in actions:
            obs, r, _, _, info = env.step(a)
            assert r == pytest.approx(info["reward"].sum())
            assert np.allclose(info["reward"], env.instance.beta * info["S"] - env.lam * info["E"])
            traj.append(np.r_[obs, r])
        return np.concatenate(traj)

    a, b, c = run(7), run(7), run(8)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_gymnasium_check_env_and_registered_ids():
    for env_id in sch.ENV_IDS:
        env = gym.make(env_id, n_users=3)
        check_env(env.unwrapped, skip_render_check=True)
        obs, _ = env.reset(seed=0)
        assert env.observation_space.contains(obs)
    po = gym.make("simulators/SchedulingPO-v0", n_users=3).unwrapped
    full = gym.make("simulators/Scheduling-v0", n_users=3).unwrapped
    assert po.observation_space.shape[0] == full.observation_space.shape[0] - 3 == po.buffer_size


def test_partial_and_noisy_observations():
    inst = make_instance(2, "bench", rho=0.9)
    po = SchedulingEnv(inst, partial=True)
    full = SchedulingEnv(inst)
    o_po, _ = po.reset(seed=4)
    o_full, _ = full.reset(seed=4)
    a = np.zeros(full.buffer_size)
    for _ in range(20):
        o_po, _, _, _, i_po = po.step(a)
        o_full, _, _, _, i_full = full.step(a)
        assert np.array_equal(o_po, o_full[: po.buffer_size])  # same dynamics, channel hidden
        assert np.array_equal(o_full[po.buffer_size :], full.channel)
    noisy = SchedulingEnv(inst, obs_noise=0.3)
    wrong = total = 0
    for ep in range(30):
        noisy.reset(seed=ep)
        for _ in range(noisy.horizon):
            wrong += int((noisy.shown_channel != noisy.channel).sum())
            total += noisy.n_users
            noisy.step(a)
    expected = 0.3 * (1 - 1 / inst.n_channels)
    assert abs(wrong / total - expected) < 4 * np.sqrt(expected * (1 - expected) / total) + 1e-3


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(n_users=0),
        dict(rho=1.5),
        dict(arrival="foo"),
        dict(preset="nope"),
        dict(n_channels=0),
        dict(tau_max=1),
        dict(arrival="trace"),
        dict(budget=-1.0),
        dict(horizon=0),
        dict(e_max=0.0),
        dict(kernel=np.array([[0.5, 0.6], [0.5, 0.5]])),
        dict(rate_range=(3, 2)),
    ],
)
def test_bad_instance_parameters_raise_clear_errors(kwargs):
    with pytest.raises(ValueError) as exc:
        SchedulingEnv(**kwargs)
    name = next(iter(kwargs))
    key = {"arrival": "trace_path" if kwargs.get("arrival") == "trace" else "arrival"}.get(name, name)
    if name == "kernel":
        key = "rows must sum to 1"
    assert key in str(exc.value)


def test_bad_env_parameters_and_actions():
    with pytest.raises(ValueError, match="obs_noise"):
        SchedulingEnv(obs_noise=1.0)
    with pytest.raises(ValueError, match="lam"):
        SchedulingEnv(lam=-1)
    with pytest.raises(ValueError, match="partial"):
        SchedulingEnv(partial="yes")
    with pytest.raises(ValueError, match="n_user"):
        SchedulingEnv(n_user=3)  # a typo is named, not a TypeError
    env = SchedulingEnv()
    with pytest.raises(RuntimeError, match="reset"):
        env.step(np.zeros(env.buffer_size))
    env.reset(seed=0)
    with pytest.raises(ValueError, match="NaN"):
        env.step(np.full(env.buffer_size, np.nan))
    with pytest.raises(ValueError, match="entries"):
        env.step(np.zeros(env.buffer_size + 1))
    with pytest.raises(ValueError, match="split"):
        env.reset(options={"split": "test"})


def test_trace_csv_loading_split_and_synthetic_label(tmp_path):
    path = tmp_path / "trace.csv"
    trace = write_synthetic_trace_csv(path, [1.0, 3.0, 2.0], n_slots=1000, seed=5)
    assert path.read_text().startswith("# SYNTHETIC")
    arr = TraceArrivals.from_csv(path)
    assert np.array_equal(arr.trace, trace) and arr.synthetic and "SYNTHETIC" in arr.label
    inst = make_instance(0, "code", n_users=2, arrival="trace", trace_path=path)
    assert "SYNTHETIC" in inst.describe()["arrivals"]
    rng = np.random.default_rng(0)
    train = trace[:2, :800]
    evalp = trace[:2, 800:]
    for _ in range(20):
        w = inst.arrivals.sample(rng, 100, "train")
        starts = [s for s in range(701) if np.array_equal(train[:, s : s + 100], w)]
        assert starts, "train window must come from the first 80% of the trace"
        w = inst.arrivals.sample(rng, 100, "eval")
        assert any(np.array_equal(evalp[:, s : s + 100], w) for s in range(101))
    env = SchedulingEnv(inst, split="eval")
    env.reset(seed=0)
    assert any(np.array_equal(evalp[:, s : s + 100], env.arrivals) for s in range(101))
    # user-supplied CSV, no comment line; errors are clear
    plain = tmp_path / "plain.csv"
    plain.write_text("1,0,2,3\n0,0,1,1\n")
    assert TraceArrivals.from_csv(plain).trace.shape == (2, 4) and not TraceArrivals.from_csv(plain).synthetic
    bad = tmp_path / "bad.csv"
    bad.write_text("1,-1,2\n")
    with pytest.raises(ValueError, match="non-negative integer"):
        TraceArrivals.from_csv(bad)
    with pytest.raises(FileNotFoundError, match="trace_path"):
        TraceArrivals.from_csv(tmp_path / "missing.csv")
    with pytest.raises(ValueError, match="rows"):
        make_instance(0, "code", n_users=5, arrival="trace", trace_path=path)


def test_arrival_processes_have_their_mean_rates():
    rng = np.random.default_rng(1)
    rates = np.array([0.5, 2.0, 4.0])
    H = 20_000
    for proc in (
        PoissonArrivals(rates),
        MMPPArrivals(rates),
        PeriodicArrivals(rates, period=10, mode="square"),
        PeriodicArrivals(rates, period=5, mode="hold"),
    ):
        a = proc.sample(rng, H)
        assert a.shape == (3, H) and a.dtype == np.int64 and a.min() >= 0
        assert np.allclose(a.mean(axis=1), proc.mean_rates, rtol=0.08), proc.kind
    assert MMPPArrivals(rates).synthetic and not PoissonArrivals(rates).synthetic
    sq = PeriodicArrivals(rates, period=10, mode="square").sample(rng, 40)
    assert sq[:, 5:10].sum() == 0 and sq[:, 15:20].sum() == 0  # off half of each period
    pmf = PoissonArrivals(rates).pmf(2)
    assert np.allclose(pmf.sum(axis=1), 1) and pmf[1, 2] == pytest.approx(stats.poisson.sf(1, 2.0))
    with pytest.raises(ValueError, match="not i.i.d"):
        MMPPArrivals(rates).pmf(1)


def test_markov_channel_paths_follow_the_kernel():
    rng = np.random.default_rng(2)
    R = np.array([[0.2, 0.5, 0.3], [0.6, 0.1, 0.3], [0.1, 0.1, 0.8]])
    P = sticky_kernel(R, 0.5)
    assert np.allclose(P, 0.5 * np.eye(3) + 0.5 * R)
    paths = sample_channel_paths(rng, np.broadcast_to(P, (4, 3, 3)), 20_000, start="stationary") - 1
    counts = np.zeros((3, 3))
    np.add.at(counts, (paths[:, :-1].ravel(), paths[:, 1:].ravel()), 1)
    assert np.allclose(counts / counts.sum(axis=1, keepdims=True), P, atol=0.02)
    pi = stationary_distribution(P)
    assert np.allclose(pi @ P, pi) and np.allclose(np.bincount(paths.ravel()) / paths.size, pi, atol=0.02)


def test_lock_step_batch_matches_env_statistics():
    inst = make_instance(1, "bench")
    batch = SchedulingBatch(inst, 200)
    obs = batch.reset(seed=0)
    assert obs.shape == (200, batch.buffer_size + inst.n_users)
    a = np.zeros((200, batch.buffer_size))
    tot = np.zeros(200)
    for t in range(inst.horizon):
        obs, r, trunc, info = batch.step(a)
        tot += info["S"] @ inst.beta
        assert trunc == (t == inst.horizon - 1)
    env = SchedulingEnv(inst)
    single = []
    for ep in range(100):
        env.reset(seed=ep)
        s = 0.0
        for _ in range(inst.horizon):
            s += env.step(np.zeros(env.buffer_size))[4]["S"] @ inst.beta
        single.append(s)
    se = np.sqrt(tot.var() / 200 + np.var(single) / 100)
    assert abs(tot.mean() - np.mean(single)) < 4 * se
    with pytest.raises(RuntimeError):
        batch.step(a)


def test_env_kernel_equals_batch_kernel_and_returned_arrays_stay_fresh():
    """The env steps one episode packed into one state array (``step_env``, output rows per episode);
    the batch steps the same episode with ``step_slot`` on separate arrays. Same seed, same actions:
    same episode. Every observation and ``info`` array handed out keeps its values through later
    steps and resets (each is a view of a row no later step writes)."""
    inst = make_instance(2, "code", n_users=9)
    env = SchedulingEnv(inst, lam=0.6)
    batch = SchedulingBatch(inst, 1, lam=0.6)
    rng = np.random.default_rng(5)
    kept = []
    for seed in (3, 4):
        obs, info = env.reset(seed=seed)
        assert np.array_equal(obs, batch.reset(seed=seed)[0])
        kept.append((obs, info, obs.copy(), {k: v.copy() for k, v in info.items()}))
        for t in range(inst.horizon):
            a = rng.uniform(-1.2, 1.2, env.buffer_size).astype(np.float32 if t % 2 else np.float64)
            obs, r, term, trunc, info = env.step(a if t % 3 else np.repeat(a, 2)[::2])
            b_obs, b_r, b_trunc, b_info = batch.step(a[None])
            assert obs.dtype == np.float32 and np.array_equal(obs, b_obs[0])
            for key in ("S", "E", "D", "reward", "channel"):
                assert info[key].dtype == b_info[key].dtype and np.array_equal(info[key], b_info[key][0]), key
            assert r == pytest.approx(b_r[0], rel=1e-12) and trunc == b_trunc and not term
            assert np.array_equal(env.queues, batch.queues[0])
            kept.append((obs, info, obs.copy(), {k: v.copy() for k, v in info.items()}))
    for obs, info, obs0, info0 in kept:
        assert np.array_equal(obs, obs0) and all(np.array_equal(info[k], info0[k]) for k in info0)


def test_env_copies_step_on_their_own_state():
    """deepcopy and pickle give envs with their own state (the packed state refers to the copy's own
    episode arrays): stepping the original first changes nothing in the copies, which then replay
    the original's steps exactly."""
    import copy
    import pickle

    env = SchedulingEnv(preset="code", n_users=5)
    env.reset(seed=2)
    rng = np.random.default_rng(0)
    actions = [rng.uniform(-1, 1, env.buffer_size).astype(np.float32) for _ in range(8)]
    for a in actions[:3]:
        env.step(a)
    twins = [copy.deepcopy(env), pickle.loads(pickle.dumps(env))]
    out = [env.step(a) for a in actions[3:]]
    for twin in twins:
        assert twin.t == 3
        for a, (obs, r, _, _, info) in zip(actions[3:], out):
            t_obs, t_r, _, _, t_info = twin.step(a)
            assert np.array_equal(obs, t_obs) and r == t_r
            assert all(np.array_equal(info[k], t_info[k]) for k in info)
        assert np.array_equal(twin.queues, env.queues)
    q = env.queues.copy()
    twins[0].reset(seed=9)
    twins[0].step(actions[0])
    assert env.t == 8 and np.array_equal(env.queues, q)  # the original is untouched
