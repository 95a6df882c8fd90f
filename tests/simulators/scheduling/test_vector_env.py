"""The gymnasium vector env over the lock-step batch (``SchedulingVectorEnv``, RSD4 spec §1): it is the
batch step for step, the ``SyncVectorEnv`` of ``SchedulingEnv`` under per-env seeds, and follows the
gymnasium 1.x autoreset modes and vector info convention."""

from __future__ import annotations

import subprocess
import sys

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode

import simulators  # noqa: F401  (registers the ids)
from simulators.scheduling import SchedulingEnv, SchedulingVectorEnv, make_instance
from simulators.scheduling.vector import SchedulingBatch

M = 4
IDS = ("simulators/Scheduling-v0", "simulators/SchedulingPO-v0", "simulators/SchedulingNoisy-v0")
SMALL = {"n_users": 3, "horizon": 8, "instance_seed": 3}  # Poisson arrivals, tau in 1..6


@pytest.fixture(scope="module")
def inst():
    return make_instance(3, "code", n_users=3, horizon=8)


def actions_stream(B, seed=0, n=100):
    rng = np.random.default_rng(seed)
    return [rng.uniform(-1.2, 1.0, (M, B)) for _ in range(n)]  # some below -1: clipped to zero energy


def assert_info_equal(a, b, where=""):
    assert a.keys() == b.keys(), where
    for key in a:
        if isinstance(a[key], dict):
            assert_info_equal(a[key], b[key], f"{where}/{key}")
        elif key == "final_obs":
            assert a[key].dtype == object and b[key].dtype == object
            for x, y in zip(a[key], b[key], strict=True):
                np.testing.assert_array_equal(x, y, err_msg=f"{where}/{key}")
        else:
            np.testing.assert_array_equal(a[key], b[key], err_msg=f"{where}/{key}")
            assert np.asarray(a[key]).dtype == np.asarray(b[key]).dtype, f"{where}/{key}"


def rollout(envs, actions, seed):
    out = [envs.reset(seed=seed)]
    out += [envs.step(a) for a in actions]
    return out


def test_same_seed_same_rollout_and_spaces_contain_everything(inst):
    B = SchedulingEnv(inst).buffer_size
    acts = actions_stream(B, n=3 * inst.horizon)
    v1, v2 = SchedulingVectorEnv(inst, M, lam=0.3), SchedulingVectorEnv(inst, M, lam=0.3)
    r1, r2 = rollout(v1, acts, 5), rollout(v2, acts, 5)
    for step1, step2 in zip(r1, r2, strict=True):
        for x, y in zip(step1[:-1], step2[:-1], strict=True):
            np.testing.assert_array_equal(x, y)
        assert_info_equal(step1[-1], step2[-1])
    assert all(v1.observation_space.contains(s[0]) for s in r1)
    assert v1.action_space.contains(v1.action_space.sample())
    single = SchedulingEnv(inst)
    assert v1.single_observation_space == single.observation_space
    assert v1.single_action_space == single.action_space == gym.spaces.Box(-1, 1, (B,), np.float32)
    assert v1.observation_space.shape == (M, single.observation_space.shape[0])
    assert v1.action_space.shape == (M, B) and v1.num_envs == M
    # a different seed gives a different rollout; reset(seed=None) continues the generator
    other = rollout(SchedulingVectorEnv(inst, M, lam=0.3), acts, 6)
    assert any(not np.array_equal(a[0], b[0]) for a, b in zip(r1, other, strict=True))
    assert not np.array_equal(v1.reset()[1]["channel"], v2.reset(seed=5)[1]["channel"])


def test_equals_scheduling_batch_bit_for_bit_across_the_autoreset(inst):
    """Same seed and actions: every slot equals SchedulingBatch's; the NEXT_STEP autoreset step returns
    what ``batch.reset()`` (the same generator, continued) returns, and the new episode goes on equal."""
    H = inst.horizon
    venv, batch = SchedulingVectorEnv(inst, M, lam=0.7), SchedulingBatch(inst, M, lam=0.7)
    acts = iter(actions_stream(batch.buffer_size, seed=1))
    obs, info = venv.reset(seed=11)
    np.testing.assert_array_equal(obs, batch.reset(seed=11))
    np.testing.assert_array_equal(info["channel"], batch.channel)
    for episode in range(3):
        for t in range(H):
            a = next(acts)
            obs, r, term, trunc, info = venv.step(a)
            b_obs, b_r, b_trunc, b_info = batch.step(a)
            np.testing.assert_array_equal(obs, b_obs)
            np.testing.assert_array_equal(r, b_r)
            for key in ("S", "E", "D", "reward", "channel"):
                np.testing.assert_array_equal(info[key], b_info[key])
                assert info["_" + key].tolist() == [True] * M
            np.testing.assert_allclose(info["reward"], inst.beta * info["S"] - 0.7 * info["E"], rtol=1e-12)
            # truncation exactly at t = H, for all sub-envs together; never terminated
            assert trunc.dtype == bool and trunc.tolist() == [t == H - 1] * M == [b_trunc] * M
            assert term.tolist() == [False] * M
            assert venv.t == t + 1
        # NEXT_STEP: the following step ignores the actions and starts the next episodes
        obs, r, term, trunc, info = venv.step(next(acts))
        np.testing.assert_array_equal(obs, batch.reset())
        assert obs[:, : batch.buffer_size].max() == 0  # queues start empty
        assert r.tolist() == [0.0] * M and not term.any() and not trunc.any()
        assert info.keys() == {"channel", "_channel"} and venv.t == 0
        np.testing.assert_array_equal(info["channel"], batch.channel)
        assert episode < 2 or venv.observation_space.contains(obs)


def test_same_step_autoreset_returns_the_next_episode_at_the_truncation(inst):
    H = inst.horizon
    nxt = SchedulingVectorEnv(inst, M, autoreset_mode=AutoresetMode.NEXT_STEP)
    same = SchedulingVectorEnv(inst, M, autoreset_mode="SameStep")
    assert same.metadata["autoreset_mode"] is AutoresetMode.SAME_STEP
    assert nxt.metadata["autoreset_mode"] is AutoresetMode.NEXT_STEP
    acts = actions_stream(same.buffer_size, seed=2)
    nxt.reset(seed=4)
    same.reset(seed=4)
    for t in range(H - 1):
        for x, y in zip(nxt.step(acts[t]), same.step(acts[t]), strict=True):
            assert_info_equal(x, y) if isinstance(x, dict) else np.testing.assert_array_equal(x, y)
    n_obs, n_r, _, n_trunc, n_info = nxt.step(acts[H - 1])
    s_obs, s_r, s_term, s_trunc, s_info = same.step(acts[H - 1])
    assert n_trunc.all() and s_trunc.all() and not s_term.any()
    np.testing.assert_array_equal(s_r, n_r)
    assert s_info.keys() == {"channel", "_channel", "final_obs", "_final_obs", "final_info", "_final_info"}
    assert s_info["final_obs"].shape == (M,)
    np.testing.assert_array_equal(np.stack(s_info["final_obs"]), n_obs)
    assert_info_equal(s_info["final_info"], n_info)
    r_obs, r_r, _, _, r_info = nxt.step(acts[H])  # NEXT_STEP's reset step
    np.testing.assert_array_equal(s_obs, r_obs)
    assert_info_equal({k: s_info[k] for k in ("channel", "_channel")}, r_info)
    assert same.observation_space.contains(s_obs) and same.t == 0
    # the new episode: SAME_STEP's step k equals NEXT_STEP's step k + 1 (same generator, same actions),
    # up to its truncation, where SAME_STEP again shows the next episode's start
    for t in range(H - 1):
        x, y = same.step(acts[t]), nxt.step(acts[t])
        for u, w in zip(x, y, strict=True):
            assert_info_equal(u, w) if isinstance(u, dict) else np.testing.assert_array_equal(u, w)
    x, y = same.step(acts[H - 1]), nxt.step(acts[H - 1])
    np.testing.assert_array_equal(np.stack(x[4]["final_obs"]), y[0])
    np.testing.assert_array_equal(x[1], y[1])
    assert x[3].all() and y[3].all() and x[0][:, : same.buffer_size].max() == 0


@pytest.mark.parametrize("mode", [AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP])
@pytest.mark.parametrize("env_id", IDS)
def test_per_env_seeds_reproduce_sync_vector_env_of_single_envs(env_id, mode):
    """With a list of seeds, sub-env m is SchedulingEnv reset with seed m: the vector env returns what
    gymnasium's SyncVectorEnv of M single envs returns (observations, rewards, flags, info), through
    autoresets and a reset(seed=None) that continues each sub-env's generator."""
    H = SMALL["horizon"]
    sync = gym.make_vec(env_id, num_envs=M, vectorization_mode="sync", vector_kwargs={"autoreset_mode": mode},
                        lam=0.4, **SMALL)
    vec = gym.make_vec(env_id, num_envs=M, vectorization_mode="vector_entry_point", autoreset_mode=mode,
                       lam=0.4, **SMALL)
    assert isinstance(vec, SchedulingVectorEnv) and not isinstance(sync, SchedulingVectorEnv)
    acts = actions_stream(vec.buffer_size, seed=3)
    seeds = [21, 5, 0, 21]
    for phase, (seed, n_steps) in enumerate([(seeds, 2 * H + 3), (None, H // 2), ([None, 8, None, 9], H + 2)]):
        o1, i1 = sync.reset(seed=seed)
        o2, i2 = vec.reset(seed=seed)
        np.testing.assert_array_equal(o1, o2)
        assert_info_equal(i1, i2, f"reset {phase}")
        for t in range(n_steps):
            s1, s2 = sync.step(acts[t]), vec.step(acts[t])
            for name, x, y in zip(("obs", "terminated", "truncated"), (s1[0], s1[2], s1[3]),
                                  (s2[0], s2[2], s2[3]), strict=True):
                np.testing.assert_array_equal(x, y, err_msg=f"{phase} {t} {name}")
            np.testing.assert_allclose(s1[1], s2[1], rtol=0, atol=1e-12)  # numpy's sum of the same terms
            assert_info_equal(s1[4], s2[4], f"{phase} {t}")
    sync.close()


def test_per_env_seed_list_reproduces_single_env_episodes(inst):
    """Sub-env m seeded with s_m is SchedulingEnv reset with s_m, also after the autoreset (its generator
    continues); equal seeds and actions give equal sub-envs; an int seed is not the list [s, s + 1, ...]."""
    H = inst.horizon
    venv, single = SchedulingVectorEnv(inst, M), SchedulingEnv(inst)
    acts = np.stack(actions_stream(venv.buffer_size, seed=4, n=2 * H + 1))
    acts[:, 2] = acts[:, 0]
    steps = rollout(venv, acts, [7, 1, 7, 2])
    for obs, *_ in steps:
        np.testing.assert_array_equal(obs[0], obs[2])
    assert not np.array_equal(steps[H][0][0], steps[H][0][1])
    np.testing.assert_array_equal(single.reset(seed=1)[0], steps[0][0][1])
    for t in range(2 * H + 1):
        if t == H:  # the vector env's autoreset step; the single env is reset by hand
            obs, r = single.reset()[0], 0.0
        else:
            obs, r, *_ = single.step(acts[t, 1])
        np.testing.assert_array_equal(obs, steps[t + 1][0][1], err_msg=str(t))
        assert r == steps[t + 1][1][1]  # N = 3 < 8 terms: numpy sums them in user order, as the kernel
    venv.reset(seed=3)
    by_int = venv.arrivals.copy()
    venv.reset(seed=[3, 4, 5, 6])
    assert not np.array_equal(by_int, venv.arrivals)
    venv.reset(seed=3)
    np.testing.assert_array_equal(by_int, venv.arrivals)


def test_partial_observation_hides_only_the_channel(inst):
    full = gym.make_vec("simulators/Scheduling-v0", num_envs=M, vectorization_mode="vector_entry_point",
                        instance=inst)
    po = gym.make_vec("simulators/SchedulingPO-v0", num_envs=M, vectorization_mode="vector_entry_point",
                      instance=inst)
    B, N = full.buffer_size, inst.n_users
    assert full.single_observation_space.shape == (B + N,) and po.single_observation_space.shape == (B,)
    assert po.observation_space.shape == (M, B) and po.partial and not full.partial
    acts = actions_stream(B, seed=5, n=2 * inst.horizon + 1)
    for (o_f, *rest_f), (o_p, *rest_p) in zip(rollout(full, acts, 9), rollout(po, acts, 9), strict=True):
        assert o_p.shape == (M, B) and o_f.shape == (M, B + N)
        np.testing.assert_array_equal(o_p, o_f[:, :B])  # same dynamics, channel columns dropped
        np.testing.assert_array_equal(rest_f[-1]["channel"], rest_p[-1]["channel"])  # still in info
        assert po.observation_space.contains(o_p)
    assert full.channel.shape == (M, N) and (1 <= full.channel).all() and (full.channel <= inst.n_channels).all()


def test_make_vec_registered_ids_and_make_still_works():
    for env_id, kwargs in simulators.gym_envs.SCHEDULING_ENV_IDS.items():
        envs = gym.make_vec(env_id, num_envs=5, vectorization_mode="vector_entry_point", n_users=2, lam=0.2)
        assert type(envs) is SchedulingVectorEnv and envs.num_envs == 5 and envs.n_users == 2
        assert envs.lam == 0.2 and envs.partial == kwargs.get("partial", False)
        assert envs.obs_noise == kwargs.get("obs_noise", 0.0)
        assert envs.spec.id == env_id and envs.spec.kwargs["num_envs"] == 5
        assert type(gym.make_vec(env_id, num_envs=2)) is SchedulingVectorEnv  # the default mode
        single = gym.make(env_id, n_users=2)
        assert type(single.unwrapped) is SchedulingEnv
        assert single.observation_space == envs.single_observation_space
        obs, info = envs.reset(seed=0)
        assert envs.observation_space.contains(obs) and info["channel"].shape == (5, 2)
        envs.close()


def test_registration_stays_lazy_and_simulators_imports_no_learning_code():
    code = (
        "import sys, gymnasium as gym, simulators\n"
        "assert 'simulators.scheduling' not in sys.modules\n"
        "envs = gym.make_vec('simulators/SchedulingNoisy-v0', num_envs=3, n_users=2, horizon=3)\n"
        "assert type(envs).__name__ == 'SchedulingVectorEnv', type(envs)\n"
        "envs.reset(seed=0)\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('provable', 'deeprl', 'proofs_checks', 'torch')]\n"
        "assert not bad, bad\n"
        "print('ok')\n"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr[-2000:]
    assert p.stdout.strip() == "ok"


def test_bad_input_raises_clear_errors(inst):
    venv = SchedulingVectorEnv(inst, M)
    B = venv.buffer_size
    with pytest.raises(RuntimeError, match="reset"):
        venv.step(np.zeros((M, B)))
    venv.reset(seed=0)
    with pytest.raises(ValueError, match=rf"actions must have shape \({M}, {B}\)"):
        venv.step(np.zeros(B))
    with pytest.raises(ValueError, match="actions"):
        venv.step(np.zeros((M + 1, B)))
    twin = SchedulingVectorEnv(inst, M)
    twin.reset(seed=0)
    bad = np.zeros((M, B))
    bad[2, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        venv.step(bad)
    # the failed step changed nothing
    np.testing.assert_array_equal(venv.step(np.zeros((M, B)))[0], twin.step(np.zeros((M, B)))[0])
    for seed in (-1, 1.5, "1", True, [1, 2], [1, 2, 3, -4], (0,) * (M + 1), np.array([1, 2, 3, 4])):
        with pytest.raises(ValueError, match="seed must be None, a non-negative int"):
            venv.reset(seed=seed)
    with pytest.raises(ValueError, match="reset options"):
        venv.reset(options={"splt": "eval"})
    with pytest.raises(ValueError, match="split"):
        venv.reset(options={"split": "test"})
    with pytest.raises(ValueError, match="reset_mask"):
        venv.reset(options={"reset_mask": np.array([True, False, True, True])})
    with pytest.raises(ValueError, match="autoreset_mode must be one of"):
        SchedulingVectorEnv(inst, M, autoreset_mode="sometimes")
    with pytest.raises(ValueError, match="num_envs"):
        SchedulingVectorEnv(inst, 0)
    with pytest.raises(ValueError, match="num_envs"):
        SchedulingVectorEnv(inst, 2.5)
    with pytest.raises(ValueError, match="n_userz"):
        SchedulingVectorEnv(None, M, n_userz=3)
    with pytest.raises(ValueError, match="obs_noise"):
        SchedulingVectorEnv(inst, M, partial=True, obs_noise=0.1)
    with pytest.raises(ValueError, match="render_mode"):
        SchedulingVectorEnv(inst, M, render_mode="human")
    with pytest.raises(ValueError, match="lam"):
        venv.lam = -1.0
    for _ in range(inst.horizon - 1):
        venv.step(np.zeros((M, B)))
    with pytest.raises(ValueError, match="NaN"):  # also at the autoreset step, which ignores valid actions
        venv.step(bad)
    with pytest.raises(ValueError, match="actions must have shape"):
        venv.step(np.zeros((M, B + 1)))
    assert venv.step(np.ones((M, B)))[1].tolist() == [0.0] * M


def test_disabled_autoreset_requires_an_explicit_reset(inst):
    venv = SchedulingVectorEnv(inst, M, autoreset_mode=AutoresetMode.DISABLED)
    assert venv.metadata["autoreset_mode"] is AutoresetMode.DISABLED
    venv.reset(seed=1)
    a = np.zeros((M, venv.buffer_size), dtype=np.float32)
    for _ in range(inst.horizon):
        *_, trunc, info = venv.step(a)
    assert trunc.all() and "final_obs" not in info
    with pytest.raises(RuntimeError, match="reset"):
        venv.step(a)
    obs, _ = venv.reset(options={"reset_mask": np.ones(M, dtype=bool)})
    assert venv.t == 0 and obs[:, : venv.buffer_size].max() == 0
    venv.step(a)
