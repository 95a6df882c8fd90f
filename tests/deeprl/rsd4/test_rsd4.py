"""RSD4 (spec §2): softmax operator limits, shared-branch critic trick, dual projection, training
reduces the critic loss, checkpoint/resume continues the same run, CLI errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from deeprl.common import latest_checkpoint, load_checkpoint
from deeprl.rsd4 import DualAscent, RSD4Agent, RSD4Config, softmax_value
from deeprl.rsd4.cli import main as cli_main_fn
from deeprl.rsd4.networks import RecurrentCritic
from deeprl.rsd4.train import Trainer, resume, train

pytestmark = pytest.mark.torch


def small_cfg(**kw) -> RSD4Config:
    base = dict(n_users=2, horizon=20, episodes=6, batch_size=4, random_steps=40, hidden=8, n_samples=5,
                eval_every=3, eval_episodes=2, checkpoint_every=100, preset="bench")
    base.update(kw)
    return RSD4Config(**base)


def test_softmax_operator_limits():
    torch.manual_seed(0)
    q = torch.randn(7, 50)
    assert torch.allclose(softmax_value(q, 0.0), q.mean(-1), atol=1e-6)  # beta -> 0: the mean
    assert torch.allclose(softmax_value(q, 1e6), q.max(-1).values, atol=1e-5)  # beta -> inf: the max
    mid = softmax_value(q, 1.0)
    assert torch.all(mid >= q.mean(-1) - 1e-6) and torch.all(mid <= q.max(-1).values + 1e-6)
    big = softmax_value(q * 1e4, 10.0)  # log-space: no overflow
    assert torch.isfinite(big).all()


def test_shared_branch_equals_naive_repetition():
    torch.manual_seed(1)
    critic = RecurrentCritic(6, 3, 16)
    obs, prev = torch.randn(4, 9, 6), torch.rand(4, 9, 3) * 2 - 1
    acts = torch.rand(4, 9, 11, 3) * 2 - 1
    m, _ = critic.memory(obs, prev)
    shared = critic.head(obs, acts, m)
    naive = torch.stack([critic(obs, acts[:, :, k], prev)[0] for k in range(11)], -1)
    assert (shared - naive).abs().max() <= 1e-6


def test_dual_projection_and_direction():
    d = DualAscent(budget=4.0, lam_max=0.3, lam0=1.0, lr_frac=0.5, every=1)
    assert d.lam == 0.3  # lambda_0 projected onto [0, lambda_max]
    d.observe(8.0, active=True)  # over budget: lambda up, clipped at lambda_max
    assert d.lam == 0.3
    for _ in range(10):
        d.observe(0.0, active=True)  # under budget: lambda down, never below 0
    assert d.lam == 0.0
    d2 = DualAscent(budget=4.0, lam_max=1.0, lam0=0.5, lr_frac=0.1, every=2, window=2)
    assert not d2.observe(5.0, active=True) and d2.lam == 0.5
    assert d2.observe(7.0, active=True)
    assert d2.lam == pytest.approx(0.5 + 0.1 * (6.0 - 4.0) / 4.0)  # eq. (17a) with the window mean
    assert not d2.observe(100.0, active=False) and d2.lam == pytest.approx(0.55)  # random phase: inactive
    fixed = DualAscent(budget=4.0, lam_max=0.3, lam0=1.0, mode="fixed")
    fixed.observe(100.0, active=True)
    assert fixed.lam == 1.0 and fixed.freeze() == 1.0
    assert DualAscent(budget=4.0, lam_max=0.3).lam == pytest.approx(0.15)  # default start lambda_max / 2
    assert DualAscent(budget=4.0, lam_max=0.3, mode="fixed").lam == 1.0  # the code's fixed lambda


def test_dual_step_is_relative_violation_and_freeze_holds_the_averaged_iterate():
    d = DualAscent(budget=2.0, lam_max=1.0, lam0=0.5, lr_frac=0.1)  # defaults: every episode, window 1
    energies = [3.0, 1.0, 2.5, 2.0, 0.0]
    lams = [0.5]
    for e in energies:
        assert d.observe(e, active=True)
        lams.append(float(np.clip(lams[-1] + 0.1 * (e - 2.0) / 2.0, 0.0, 1.0)))  # eq. (17a) by hand
        assert d.lam == pytest.approx(lams[-1])
    # eq. (17b): mean of lambda_m..lambda_n with m = floor(avg_start n), n = 5 updates
    assert d.averaged() == pytest.approx(np.mean(lams[2:]))
    lam_bar = d.freeze()
    assert lam_bar == pytest.approx(np.mean(lams[2:])) and d.lam == lam_bar
    assert not d.observe(100.0, active=True) and d.lam == lam_bar  # frozen: no more steps
    assert d.freeze() == lam_bar  # idempotent
    restored = DualAscent(budget=2.0, lam_max=1.0, lam0=0.5, lr_frac=0.1)
    restored.load_state_dict(d.state_dict())
    assert restored.lam == lam_bar and restored.frozen and restored.iterates == d.iterates
    with pytest.raises(ValueError, match="budget"):
        DualAscent(budget=0.0, lam_max=1.0)
    with pytest.raises(ValueError, match="avg_start"):
        DualAscent(budget=1.0, lam_max=1.0, avg_start=1.0)


@pytest.mark.parametrize("instance_seed", [0, 2])
@pytest.mark.parametrize("lag", [1.0, 0.1])
def test_dual_ascent_drives_energy_to_the_budget(instance_seed, lag):
    """Primal-dual on a tiny instance with a known best response: the learner at lambda spends
    E(lambda) of the packet DP (spec eq. (25)), responds to a new lambda with a lag (it moves its
    effective lambda a fraction ``lag`` of the way per episode, as a critic/actor does) and measures
    energy with 5% noise. A few hundred episodes of eq. (17a) and the averaged iterate (17b) must give
    lambda* (the bisection optimum) and energy E_b within a few percent; a wrong sign, step or projection
    would leave lambda at a bound or oscillating."""
    from simulators.scheduling import make_instance
    from simulators.scheduling.optimal import optimal_full_info, packet_dp

    inst = make_instance(instance_seed, "tiny", rho=0.9)
    opt = optimal_full_info(inst)
    assert opt.meta["binding"] and packet_dp(inst, 0.0).energy_rate > 1.5 * inst.budget

    def energy(lam: float) -> float:
        return packet_dp(inst, lam).energy_rate

    rng = np.random.default_rng(instance_seed)
    d = DualAscent(inst.budget, inst.lam_max)
    lam_eff = d.lam
    for _ in range(300):
        d.observe(energy(lam_eff) * (1 + 0.05 * rng.normal()), active=True)
        lam_eff += lag * (d.lam - lam_eff)
    lam_bar = d.freeze()
    assert abs(lam_bar - opt.lam_star) <= 0.03 * inst.lam_max
    assert abs(energy(lam_bar) - inst.budget) <= 0.05 * inst.budget
    # lambda rose above lambda_0 when the start overspent, fell below it when the start underspent
    lam0 = 0.5 * inst.lam_max
    assert (lam_bar > lam0) == (energy(lam0) > inst.budget)


def test_trainer_freezes_lambda_at_the_averaged_iterate(tmp_path):
    cfg = small_cfg(episodes=10, dual="ascent", dual_freeze_frac=0.3, random_steps=40)  # 2 random episodes of 20 slots
    tr = Trainer(cfg, tmp_path)
    tr.train(progress=False)
    lam = {}
    for line in (tmp_path / "metrics.csv").read_text().splitlines()[1:]:
        step, tag, value = line.split(",")
        if tag == "lambda":
            lam[int(step)] = float(value)
    assert tr.dual.frozen and len(tr.dual.iterates) == 5  # learning episodes 3..7 step (17a)
    its = [*tr.dual.iterates, lam[7]]  # lambda_0..lambda_5 (lambda_5: after the last active episode)
    assert its[1:] == [lam[e] for e in range(3, 7)] + [lam[7]]
    assert lam[8] == lam[9] == lam[10] == pytest.approx(np.mean(its[2:])) == tr.dual.lam  # eq. (17b), m = 2
    assert len({lam[e] for e in range(3, 8)}) > 1  # lambda moved while active


@pytest.mark.parametrize("variant", ["rsd4", "td3"])
def test_training_iterations_reduce_critic_loss(tmp_path, variant):
    # targets frozen (no policy step within the test), so the critic regresses a fixed target
    cfg = small_cfg(variant=variant, weight_decay=0.0, lr=1e-2, hidden=16, policy_delay=1000)
    tr = Trainer(cfg, tmp_path)
    for ep in range(4):
        data = tr.run_episode(ep, explore=True, lam=0.1)
        for i in range(cfg.n_users):
            tr.replay.add({k: data[k][i] for k in ("obs", "act", "prev_act", "S", "E")}
                          | {"beta": np.full(cfg.horizon, tr.inst.beta[i], np.float32)})
    torch.manual_seed(0)
    batch = tr.sample_batch()
    losses = [tr.agent.update([batch, batch])["critic_loss_1"] for _ in range(30)]
    assert np.mean(losses[-5:]) < 0.75 * np.mean(losses[:5])
    assert all(np.isfinite(losses))


def test_checkpoint_resume_continues_the_same_run(tmp_path):
    cfg = small_cfg(episodes=6)
    full = train(cfg, tmp_path / "a", progress=False)
    assert train(cfg, tmp_path / "b", stop_after=3, progress=False) is None
    resumed = resume(tmp_path / "b", progress=False)
    for k in ("throughput", "energy_per_slot", "lambda"):
        assert resumed[k] == full[k], k
    a = (tmp_path / "a" / "metrics.csv").read_text()
    b = (tmp_path / "b" / "metrics.csv").read_text()
    assert a == b
    for key in ("throughput", "energy_per_slot", "budget", "constraint_satisfied", "v_full"):
        assert key in full


def test_rsd4_agent_acts_with_one_state_per_network():
    cfg = small_cfg()
    agent = RSD4Agent(10, 4, cfg)
    state = agent.initial_state()
    obs = np.random.default_rng(0).normal(size=(3, 10)).astype(np.float32)
    a, state = agent.act(obs, -np.ones((3, 4), np.float32), state)
    assert a.shape == (3, 4) and np.all(np.abs(a) <= 1)
    assert len(state["actors"]) == 2 and len(state["critics"]) == 2
    assert state["actors"][0][0].shape == (1, 3, cfg.hidden)


def test_cli_errors_are_one_line_exit_2(capsys):
    with pytest.raises(SystemExit) as exc:
        cli_main_fn(["--variant", "nope"])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--variant" in err[0]
    with pytest.raises(SystemExit) as exc:
        cli_main_fn(["--obs-noise", "0.2"])
    assert exc.value.code == 2 and "obs-noise" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        cli_main_fn(["--resume", "/nonexistent/run"])
    assert exc.value.code == 2


def test_cli_end_to_end(tmp_path, capsys):
    out = tmp_path / "run"
    rc = cli_main_fn(["--episodes", "3", "--n-users", "2", "--horizon", "10", "--batch-size", "2",
                      "--random-steps", "10", "--hidden", "8", "--n-samples", "4", "--eval-every", "3",
                      "--out", str(out), "--no-progress", "--seed", "1"])
    assert rc == 0
    assert (out / "summary.json").exists() and (out / "metrics.csv").exists() and (out / "config.json").exists()
    with pytest.raises(SystemExit) as exc:  # never overwrite a run
        cli_main_fn(["--episodes", "3", "--out", str(out), "--no-progress"])
    assert exc.value.code == 2


def test_truncated_bptt_burn_in_reproduces_the_full_history(tmp_path):
    """A window at s = burn with a burn-in prefix covering all of o_0..o_{s-1} sees the same LSTM state
    as the full-episode unroll, so its Q values equal the full ones at those steps."""
    cfg = small_cfg(bptt_window=5, burn_in=10)
    tr = Trainer(cfg, tmp_path)
    for ep in range(3):
        data = tr.run_episode(ep, explore=True, lam=0.1)
        for i in range(cfg.n_users):
            tr.replay.add({k: data[k][i] for k in ("obs", "act", "prev_act", "S", "E")}
                          | {"beta": np.full(cfg.horizon, tr.inst.beta[i], np.float32)})
    b = tr.replay.sample(4, tr.rng)
    full = {k: torch.as_tensor(np.asarray(b[k], np.float32)) for k in ("obs", "act", "prev_act")}
    critic = tr.agent.critics[0]
    q_full, _ = critic(full["obs"][:, :-1], full["act"], full["prev_act"])
    s = 10
    win = {"pre_obs": full["obs"][:, :s], "pre_prev": full["prev_act"][:, :s], "has_prefix": torch.ones(4)}
    state = tr.agent._burn_in(critic, win, True)
    q_win, _ = critic(full["obs"][:, s:s + 5], full["act"][:, s:s + 5], full["prev_act"][:, s:s + 5], state)
    assert torch.allclose(q_win, q_full[:, s:s + 5], atol=1e-5)
    # windows drawn by the trainer have the right shapes, and training in truncated mode runs
    batch = tr.sample_batch()
    assert batch["obs"].shape[1] == 6 and batch["act"].shape[1] == 5 and batch["pre_obs"].shape[1] == 10
    assert set(batch["has_prefix"].tolist()) <= {0.0, 1.0}
    stats = tr.agent.update([batch, tr.sample_batch()])
    assert np.isfinite(stats["critic_loss_1"])
    with pytest.raises(ValueError, match="bptt_window"):
        small_cfg(bptt_window=50)


def test_user_features_layouts(tmp_path):
    ours = Trainer(small_cfg(), tmp_path / "a")
    code = Trainer(small_cfg(user_features="index", dual="ascent"), tmp_path / "b")
    ours.env.reset(seed=0)
    code.env.reset(seed=0)
    o, c = ours.feat(0.2), code.feat(0.2)
    K = ours.inst.tau_max + 1
    assert o.shape == (2, 3 + K + 2) and c.shape == (2, 1 + K)  # partial: no channel entry
    assert c[:, 0].tolist() == [0.0, 1.0]
    assert np.allclose(o[:, ours.feat.lam_index], 0.2 / ours.inst.lam_max)


def test_outcome_features_are_the_revealed_successes_and_failures_of_the_last_slot(tmp_path):
    from simulators.scheduling.heuristics import observed_successes

    tr = Trainer(small_cfg(outcome_features=True), tmp_path / "o")
    feat, env = tr.feat, tr.env
    K = tr.inst.tau_max + 1
    assert feat.obs_dim == 3 + K + 2 * K + 2 and feat.lam_index == feat.obs_dim - 2
    env.reset(seed=1)
    o = feat(0.1)
    assert np.all(o[:, 3 + K: 3 + 3 * K] == 0)  # t = 0: nothing revealed yet
    rng = np.random.default_rng(0)
    for _ in range(6):
        q0 = env.queues.astype(float).copy()
        env.step(feat.to_env_action(rng.uniform(-1, 1, (env.n_users, K)).astype(np.float32)))
        o = feat(0.1)
        S, known = observed_successes(q0, env.queues, tr.inst.tau)
        np.testing.assert_allclose(o[:, 3 + K: 3 + 2 * K] * tr.cfg.obs_scale, S, atol=1e-5)
        np.testing.assert_allclose(o[:, 3 + 2 * K: 3 + 3 * K] * tr.cfg.obs_scale, np.where(known, q0 - S, 0), atol=1e-5)
    assert np.allclose(o[:, feat.lam_index], 0.1 / tr.inst.lam_max)
    env.reset(seed=2)
    assert np.all(feat(0.1)[:, 3 + K: 3 + 3 * K] == 0)  # a new episode starts with no outcomes
    tr.train(progress=False)  # the wider observation trains end to end


def test_final_policy_is_the_selected_checkpoint_not_the_last_weights(tmp_path):
    """The best policy of the last 20% (spec §2.7) is a snapshot: training after it must not change it."""
    import copy

    cfg = small_cfg(episodes=10, eval_every=2, budget=1e6)  # every evaluation meets this budget
    tr = Trainer(cfg, tmp_path)
    assert tr.train(stop_after=8, progress=False) is None
    assert tr.best is not None and tr.best["episode"] == 8
    tr.best["throughput"] = float("inf")  # nothing later can beat episode 8
    at_8 = copy.deepcopy(tr.agent.state_dict())
    tr.train(progress=False)
    assert tr.best["episode"] == 8
    at_10 = load_checkpoint(latest_checkpoint(tmp_path))["agent"]  # the live weights at the end
    for snap, ref, last in zip(tr.best["agent"]["actors"], at_8["actors"], at_10["actors"]):
        assert all(torch.equal(snap[k], ref[k]) for k in ref)
        assert any(not torch.equal(snap[k], last[k]) for k in ref)  # training moved on after episode 8
    for final, ref in zip(tr.agent.state_dict()["actors"], at_8["actors"]):  # finish() evaluates the snapshot
        assert all(torch.equal(final[k], ref[k]) for k in ref)


def test_selection_and_final_evaluation_use_disjoint_episode_seeds(tmp_path, monkeypatch):
    """In-training evaluations pick the policy on validation seeds; the final score uses fresh EVAL_SEED
    episodes (the baselines' episodes), so the reported number carries no selection bias."""
    from deeprl.rsd4 import train as train_mod

    cfg = small_cfg(episodes=4, eval_every=2, eval_episodes=3, dual="ascent")  # calibrate: its own test below
    tr = Trainer(cfg, tmp_path)
    seen: list[tuple[int, bool]] = []
    real = tr.run_episode

    def spy(seed, explore=True, lam=0.0, scale=1.0):
        seen.append((seed, explore))
        return real(seed, explore=explore, lam=lam, scale=scale)

    monkeypatch.setattr(tr, "run_episode", spy)
    tr.train(progress=False)
    greedy = [s for s, explore in seen if not explore]
    validation = set(range(train_mod.VALIDATION_SEED, train_mod.VALIDATION_SEED + 3))
    final = set(range(train_mod.EVAL_SEED, train_mod.EVAL_SEED + 20))
    assert greedy[:6] == sorted(validation) * 2  # two in-training evaluations, validation seeds only
    assert set(greedy[6:]) == final and len(greedy) == 6 + 20  # the final evaluation: 20 fresh episodes
    assert validation.isdisjoint(final)


def test_final_score_uses_final_eval_episodes_fresh_episodes(tmp_path, monkeypatch):
    """``final_eval_episodes`` sets how many fresh EVAL_SEED episodes the summary's score averages
    (the baselines' episodes in benchmarks/rsd4_cpu.py); bad values are refused by name."""
    from deeprl.rsd4 import train as train_mod

    with pytest.raises(ValueError, match="final_eval_episodes"):
        small_cfg(final_eval_episodes=0)
    tr = Trainer(small_cfg(episodes=2, eval_every=2, final_eval_episodes=7, dual="ascent"), tmp_path)
    seen: list[int] = []
    real = tr.run_episode

    def spy(seed, explore=True, lam=0.0, scale=1.0):
        if not explore and train_mod.EVAL_SEED <= seed < train_mod.EVAL_SEED + 10**6:  # not validation seeds
            seen.append(seed)
        return real(seed, explore=explore, lam=lam, scale=scale)

    monkeypatch.setattr(tr, "run_episode", spy)
    tr.train(progress=False)
    assert seen == list(range(train_mod.EVAL_SEED, train_mod.EVAL_SEED + 7))


def test_benchmark_protocol_options_reach_the_learners_and_the_figure_name():
    """benchmarks/rsd4_cpu.py: --eval-episodes, --gamma and --random-steps are tagged in the figure name
    only when they differ from the defaults, so a run of another protocol never overwrites a figure."""
    import argparse
    import importlib

    bench = importlib.import_module("benchmarks.rsd4_cpu")
    d = RSD4Config()
    default = argparse.Namespace(gamma=None, random_steps=None, outcome_features=False,
                                 eval_episodes=bench.EVAL_EPISODES)
    assert bench.protocol_tags(default) == []
    assert bench.protocol_tags(argparse.Namespace(gamma=d.gamma, random_steps=d.random_steps, outcome_features=False,
                                                  eval_episodes=bench.EVAL_EPISODES)) == []
    assert bench.protocol_tags(argparse.Namespace(gamma=0.9, random_steps=2000, outcome_features=True,
                                                  eval_episodes=200)) == [
        "gamma0.9", "random2000", "outcomes", "eval200"]


def test_benchmark_refuses_to_read_back_a_run_made_with_other_settings(tmp_path):
    """benchmarks/rsd4_cpu.py: a run folder reused under --resume must hold the run the job asks for."""
    import importlib
    import json

    bench = importlib.import_module("benchmarks.rsd4_cpu")
    run_dir = tmp_path / "rsd4-s0"
    run_dir.mkdir()
    cfg = small_cfg().to_dict()
    (run_dir / "config.json").write_text(json.dumps(dict(cfg, gamma=0.9)))
    with pytest.raises(ValueError, match="other settings.*gamma"):
        bench._run_one({"label": "rsd4", "cfg": cfg, "run_dir": str(run_dir)})


# ---------------------------------------------------------------------------------- dual='calibrate'
def test_calibrate_bisects_to_the_feasible_side_of_the_budget_crossing():
    """E(lambda) = 3 (1 - lambda) meets E_b = 1 at lambda = 2/3: the calibrated lambda is the feasible end
    of the final bracket, within lambda_max / 128 above 2/3, after log2(128) + 2 evaluations."""
    d = DualAscent(budget=1.0, lam_max=1.0, mode="calibrate")
    info = d.calibrate(lambda lam: 3.0 * (1.0 - lam))
    assert 2 / 3 <= d.lam <= 2 / 3 + 1 / 128 and info["lam"] == d.lam
    assert info["energy"] == pytest.approx(3.0 * (1.0 - d.lam)) and info["energy"] <= 1.0 and info["feasible"]
    assert info["calls"] == 7 + 2
    zero = DualAscent(budget=1.0, lam_max=1.0, mode="calibrate")
    info = zero.calibrate(lambda lam: 0.5)
    assert {k: info[k] for k in ("lam", "energy", "calls", "feasible")} == {
        "lam": 0.0, "energy": 0.5, "calls": 1, "feasible": True}
    assert info["mix"] is None and zero.episode_lambda(3) == 0.0
    over = DualAscent(budget=1.0, lam_max=1.0, mode="calibrate")
    info = over.calibrate(lambda lam: 3.0)  # even lambda_max overspends: reported, not hidden
    assert over.lam == 1.0 and not info["feasible"]


def test_calibrate_mix_time_shares_the_bracket_ends_to_spend_the_budget():
    """E(lambda) = 2 below 0.5, 0.5 from 0.5 on; E_b = 1: the bracket ends straddle 0.5 and the Beutler-Ross
    weight of lambda^- is q = (1 - 0.5) / (2 - 0.5) = 1/3; one draw per episode seed, the same for the same seed."""
    def energy(lam):
        return 2.0 if lam < 0.5 else 0.5

    plain = DualAscent(budget=1.0, lam_max=1.0, mode="calibrate")
    plain.calibrate(energy)
    assert plain.mix is None and {plain.episode_lambda(s) for s in range(50)} == {plain.lam}
    d = DualAscent(budget=1.0, lam_max=1.0, mode="calibrate")
    info = d.calibrate(energy, mix=True)
    lam_lo, q = d.mix
    assert lam_lo < 0.5 <= d.lam == plain.lam and d.lam - lam_lo <= 1 / 128 + 1e-12
    assert q == pytest.approx(1 / 3) and info["mixed_energy"] == pytest.approx(1.0) and info["energy"] == 0.5
    lams = np.array([d.episode_lambda(s) for s in range(3000)])
    assert set(np.unique(lams)) == {lam_lo, d.lam}
    assert abs((lams == lam_lo).mean() - 1 / 3) < 0.03  # 3 SE of a Bernoulli(1/3) mean over 3000 seeds
    assert np.mean([energy(x) for x in lams]) == pytest.approx(1.0, abs=0.05)
    assert all(d.episode_lambda(s) == lams[s] for s in range(100))  # common random numbers
    again = DualAscent(budget=1.0, lam_max=1.0, mode="calibrate")
    again.load_state_dict(d.state_dict())
    assert again.mix == d.mix and [again.episode_lambda(s) for s in range(100)] == list(lams[:100])
    over = DualAscent(budget=1.0, lam_max=1.0, mode="calibrate")
    over.calibrate(lambda lam: 3.0, mix=True)  # no feasible end: nothing to mix with
    assert over.mix is None and over.lam == 1.0


def test_trainer_with_calibrate_mix_evaluates_the_mixture(tmp_path, monkeypatch):
    from deeprl.rsd4 import train as train_mod

    tr = Trainer(small_cfg(dual="calibrate", eval_episodes=2, calibrate_mix=True), tmp_path)
    b, lam_max = tr.dual.budget, tr.dual.lam_max
    played: list[float] = []

    def fake(seed, explore=True, lam=0.0, scale=1.0):
        played.append(lam)
        return {"energy": b * (2.0 if lam < 0.5 * lam_max else 0.5), "throughput": 1.0}

    monkeypatch.setattr(tr, "run_episode", fake)
    info = tr.calibrate()
    assert tr.dual.mix is not None and info["mix"] == tr.dual.mix
    played.clear()
    ev = tr.evaluate(400, base_seed=train_mod.EVAL_SEED)
    assert set(played) == {tr.dual.mix[0], tr.dual.lam}
    assert ev["energy"] == pytest.approx(b, rel=0.1)  # E_b in expectation, not E^+ = 0.5 E_b
    with pytest.raises(ValueError, match="calibrate_mix"):
        small_cfg(calibrate_mix="yes")


def test_calibrate_throttle_scales_the_energies_to_the_budget_when_lambda_max_overspends():
    """A policy spending 3 E_b at every lambda: without the fallback lambda_max is kept and reported
    infeasible; with it, E(c) = 3 c meets E_b = 1 at c = 1/3 and the scale is the feasible end of the
    bisection, within 1/128 below 1/3. A feasible lambda search never calls the throttle and resets c to 1."""
    over = DualAscent(budget=1.0, lam_max=1.0, mode="calibrate")
    info = over.calibrate(lambda lam: 3.0)
    assert not info["feasible"] and over.scale == 1.0 and info["scale"] == 1.0
    d = DualAscent(budget=1.0, lam_max=1.0, mode="calibrate")
    tried: list[tuple[float, float]] = []

    def energy_at_scale(lam, c):
        tried.append((lam, c))
        return 3.0 * c

    info = d.calibrate(lambda lam: 3.0, mix=True, throttle=energy_at_scale)
    assert 1 / 3 - 1 / 128 <= d.scale <= 1 / 3 and info["scale"] == d.scale
    assert info["feasible"] and info["energy"] == pytest.approx(3.0 * d.scale) and info["energy"] <= 1.0
    assert d.lam == 1.0 and {lam for lam, _ in tried} == {1.0}  # scaled at lambda_max
    assert d.mix is None and info["calls"] == (7 + 2) + (7 + 2)  # both bisections
    again = DualAscent(budget=1.0, lam_max=1.0, mode="calibrate")
    again.load_state_dict(d.state_dict())
    assert again.scale == d.scale

    def never(lam, c):
        raise AssertionError("the throttle acts only when lambda_max overspends")

    d.calibrate(lambda lam: 3.0 * (1.0 - lam), throttle=never)
    assert d.scale == 1.0 and 2 / 3 <= d.lam <= 2 / 3 + 1 / 128


def test_throttled_greedy_episodes_scale_every_energy(tmp_path):
    """run_episode(scale=c) plays a -> c (a + 1) - 1, i.e. every per-packet energy times c: c = 0 spends
    nothing; c = 1 is the policy itself; the trainer's evaluation plays the calibrated scale; exploring
    episodes refuse a scale."""
    tr = Trainer(small_cfg(dual="calibrate", calibrate_throttle=True), tmp_path)
    lam = 0.5 * tr.inst.lam_max
    full = tr.run_episode(5, explore=False, lam=lam)
    assert full["energy"] > 0
    assert tr.run_episode(5, explore=False, lam=lam, scale=0.0)["energy"] == 0.0
    assert tr.run_episode(5, explore=False, lam=lam, scale=1.0)["energy"] == full["energy"]
    half = tr.run_episode(5, explore=False, lam=lam, scale=0.5)
    assert 0.0 < half["energy"] < full["energy"]
    with pytest.raises(ValueError, match="scale"):
        tr.run_episode(5, explore=True, lam=lam, scale=0.5)
    tr.dual.lam, tr.dual.scale = lam, 0.0
    assert tr.evaluate(2)["energy"] == 0.0
    with pytest.raises(ValueError, match="calibrate_throttle"):
        small_cfg(calibrate_throttle=1)


def test_trainer_calibrate_throttle_meets_the_budget_with_a_policy_that_ignores_lambda(tmp_path, monkeypatch):
    """A fake policy spending 2 c E_b at every lambda (c: the scale): the trainer's calibration ends at
    lambda_max with c in [1/2 - 1/128, 1/2] and its evaluation spends <= E_b."""
    tr = Trainer(small_cfg(dual="calibrate", eval_episodes=2, calibrate_throttle=True), tmp_path)
    b = tr.dual.budget

    def fake(seed, explore=True, lam=0.0, scale=1.0):
        return {"energy": 2.0 * b * scale, "throughput": scale}

    monkeypatch.setattr(tr, "run_episode", fake)
    info = tr.calibrate()
    assert info["feasible"] and tr.dual.lam == tr.dual.lam_max and 0.5 - 1 / 128 <= tr.dual.scale <= 0.5
    assert tr.evaluate()["energy"] <= b


def test_calibrate_mode_never_steps_and_samples_the_whole_interval():
    d = DualAscent(budget=1.0, lam_max=0.3, mode="calibrate")
    assert d.lam == pytest.approx(0.15)  # lambda_max / 2 before the first calibration
    for e in (0.0, 5.0, 100.0):
        assert d.observe(e, active=True) is False
    assert d.lam == pytest.approx(0.15) and d.iterates == []
    lam = d.sample(np.random.default_rng(0), 10_000)
    assert lam.min() >= 0.0 and lam.max() <= 0.3 and abs(lam.mean() - 0.15) < 0.005


def test_calibrate_relabels_every_replayed_sequence_with_its_own_lambda(tmp_path):
    """Relabelling (deeprl.rsd4.dual): sequence j's g(t)[0] is lambda_j / lambda_max at every step and its
    reward is beta S - lambda_j E with the same lambda_j (eq. (8)); the lambda_j differ across sequences."""
    cfg = small_cfg(episodes=6, dual="calibrate", batch_size=6)
    tr = Trainer(cfg, tmp_path)
    assert tr.train(stop_after=4, progress=False) is None  # 8 sequences (2 users x 4 episodes) stored
    tr.rng = np.random.default_rng(7)
    batch = {k: v.numpy() for k, v in tr.sample_batch().items()}
    idx = tr.feat.lam_index
    lam = batch["obs"][:, :, idx] * tr.feat.lam_max
    assert np.allclose(lam, lam[:, :1], atol=1e-6)  # one lambda per sequence
    lam_j = lam[:, 0]
    assert np.unique(np.round(lam_j, 6)).size == cfg.batch_size and (0 <= lam_j).all()
    assert (lam_j <= tr.feat.lam_max + 1e-6).all()
    rng = np.random.default_rng(7)  # replay the trainer's draws: rows, then lambdas
    rows = tr.replay.sample(cfg.batch_size, rng)
    expected = rows["beta"] * rows["S"] - tr.dual.sample(rng, cfg.batch_size)[:, None] * rows["E"]
    assert np.allclose(batch["reward"], expected, atol=1e-5)


def test_calibrate_training_draws_behaviour_lambdas_and_calibrates_on_validation_seeds(tmp_path, monkeypatch):
    from deeprl.rsd4 import train as train_mod

    cfg = small_cfg(episodes=4, eval_every=2, eval_episodes=2, dual="calibrate")
    tr = Trainer(cfg, tmp_path)
    seen: list[tuple[int, bool, float]] = []
    real = tr.run_episode

    def spy(seed, explore=True, lam=0.0, scale=1.0):
        seen.append((seed, explore, lam))
        return real(seed, explore=explore, lam=lam, scale=scale)

    monkeypatch.setattr(tr, "run_episode", spy)
    summary = tr.train(progress=False)
    behaviour = [lam for _, explore, lam in seen if explore]
    assert len(behaviour) == 4 and len(set(behaviour)) == 4  # a fresh lambda per training episode
    assert all(0 <= lam <= tr.inst.lam_max for lam in behaviour)
    greedy = [(s, lam) for s, explore, lam in seen if not explore]
    final = [(s, lam) for s, lam in greedy if s >= train_mod.EVAL_SEED and s < train_mod.VALIDATION_SEED]
    calib = [(s, lam) for s, lam in greedy if s >= train_mod.VALIDATION_SEED]
    assert len(final) == 20 and {lam for _, lam in final} == {summary["lambda"]}  # scored at the calibrated lambda
    assert len(calib) + len(final) == len(greedy)  # every other greedy episode is a validation episode
    assert summary["lambda"] in {lam for _, lam in calib[-20 * 9:]}  # the final lambda was one the bisection tried


def test_calibrate_needs_lambda_among_the_inputs():
    with pytest.raises(ValueError, match="user_features"):
        small_cfg(dual="calibrate", user_features="index")


def test_calibrate_range_widens_the_sampled_and_searched_interval(tmp_path):
    tr = Trainer(small_cfg(dual="calibrate", calibrate_range=2.0), tmp_path / "wide")
    lam_max = tr.inst.lam_max
    assert tr.dual.lam_max == pytest.approx(2 * lam_max)
    lam = tr.dual.sample(np.random.default_rng(0), 1000)
    assert lam.max() > lam_max and lam.max() <= 2 * lam_max
    info = tr.dual.calibrate(lambda x: 10.0 if x < 1.5 * lam_max else 0.0)  # needs lambda above lambda_max
    assert 1.5 * lam_max <= info["lam"] <= (1.5 + 2 / 128) * lam_max and info["feasible"]
    assert Trainer(small_cfg(dual="ascent", calibrate_range=2.0), tmp_path / "asc").dual.lam_max == lam_max
    with pytest.raises(ValueError, match="calibrate_range"):
        small_cfg(calibrate_range=0.0)


def test_calibrate_grid_keeps_the_best_feasible_lambda_where_bisection_stops_at_zero():
    """A learned E(lambda) need not be monotone: here the policy idles at lambda = 0 (feasible, throughput
    0.1), overspends on (0, 0.5) and meets the budget from 0.5 on with throughput falling in lambda. Bisection
    returns lambda = 0; the grid returns 0.5, the feasible point of largest throughput."""
    def measure(lam):
        if lam == 0.0:
            return 0.2, 0.1
        return (2.0, 1.0) if lam < 0.5 else (0.9, 1.0 - 0.5 * lam)

    bis = DualAscent(budget=1.0, lam_max=1.0, mode="calibrate")
    assert bis.calibrate(lambda lam: measure(lam)[0])["lam"] == 0.0
    grid = DualAscent(budget=1.0, lam_max=1.0, mode="calibrate")
    info = grid.calibrate_grid(measure)
    assert info == {"lam": 0.5, "energy": 0.9, "calls": 17, "feasible": True} and grid.lam == 0.5
    none = DualAscent(budget=1.0, lam_max=1.0, mode="calibrate")
    info = none.calibrate_grid(lambda lam: (3.0 - lam, 1.0))  # nothing feasible: least energy, reported
    assert info["lam"] == 1.0 and not info["feasible"]
    with pytest.raises(ValueError, match="calibrate_search"):
        small_cfg(calibrate_search="nope")


def test_trainer_calibrates_by_grid_when_asked(tmp_path, monkeypatch):
    tr = Trainer(small_cfg(dual="calibrate", calibrate_search="grid", eval_episodes=1), tmp_path)
    lams: list[float] = []
    real = tr.run_episode

    def spy(seed, explore=True, lam=0.0, scale=1.0):
        lams.append(lam)
        return real(seed, explore=explore, lam=lam, scale=scale)

    monkeypatch.setattr(tr, "run_episode", spy)
    info = tr.calibrate()
    assert info["calls"] == 17 and np.allclose(lams, np.linspace(0, tr.inst.lam_max, 17))
    assert tr.dual.lam == info["lam"]


def test_calibrate_margin_holds_the_upper_confidence_bound_of_the_energy_to_the_budget(tmp_path, monkeypatch):
    """Validation energies E_k(lambda) = E_b (2 - 2 lambda / lambda_max) + d_k with d_k of mean zero: margin 0
    lands where the mean meets E_b (lambda_max / 2); margin m where mean + m SE does, a larger lambda."""
    from deeprl.rsd4 import train as train_mod

    offsets = np.array([-0.3, 0.1, 0.5, -0.3])
    se = offsets.std(ddof=1) / np.sqrt(offsets.size)
    lams = {}
    for m in (0.0, 2.0):
        tr = Trainer(small_cfg(dual="calibrate", eval_episodes=4, calibrate_margin=m), tmp_path / f"m{m}")
        b, lam_max = tr.dual.budget, tr.dual.lam_max

        def fake(seed, explore=True, lam=0.0, scale=1.0, b=b, lam_max=lam_max):
            k = seed - train_mod.VALIDATION_SEED
            return {"energy": b * (2 - 2 * lam / lam_max) + b * offsets[k], "throughput": 1.0 - lam / lam_max}

        monkeypatch.setattr(tr, "run_episode", fake)
        info = tr.calibrate()
        assert info["feasible"] and info["energy"] <= b
        expected = 0.5 * lam_max * (1 + m * se)  # where 2 - 2 lam/lam_max + m se = 1
        assert expected <= info["lam"] <= expected + lam_max / 128 + 1e-12
        assert info["energy"] == pytest.approx(b * (2 - 2 * info["lam"] / lam_max + m * se))
        lams[m] = info["lam"]
    assert lams[2.0] > lams[0.0]
    with pytest.raises(ValueError, match="calibrate_margin"):
        small_cfg(calibrate_margin=-1.0)


def _scalar_twin(split: RSD4Agent, lam: float, cfg: RSD4Config) -> RSD4Agent:
    """A scalar-critic agent whose critics output exactly Q_S - lam Q_E of ``split``'s (W4 rows combined)."""
    twin = RSD4Agent(split.obs_dim, split.act_dim, cfg)
    twin.load_state_dict({**split.state_dict(), "critics": [], "critic_targets": [], "critic_opts": []})
    for src, dst in zip(split.critics + split.critic_targets, twin.critics + twin.critic_targets):
        sd = {k: v.clone() for k, v in src.state_dict().items()}
        head = "w4" if "w4.weight" in sd else "net.4"
        for p in ("weight", "bias"):
            w = sd[f"{head}.{p}"]
            sd[f"{head}.{p}"] = (w[0] - lam * w[1]).unsqueeze(0)
        dst.load_state_dict(sd)
    return twin


@pytest.mark.parametrize("variant", ["rsd4", "td3"])
def test_split_critic_values_are_the_scalar_critic_of_q_s_minus_lambda_q_e(variant):
    """Linearity: a split agent's target (V_S, V_E) combined at lambda, its actor objective and its choice
    between the two actors equal those of a scalar agent whose critics compute Q_S - lambda Q_E (the
    spec's scalar path on the same numbers): eqs. (13)-(16) act on the combined value."""
    torch.manual_seed(0)
    lam = 0.37
    split = RSD4Agent(9, 3, small_cfg(variant=variant, split_critic=True))
    for c in split.critics + split.critic_targets:
        with torch.no_grad():
            for p in c.parameters():
                p.add_(0.3 * torch.randn_like(p))  # generic weights (no symmetry between the two heads)
    scalar = _scalar_twin(split, lam, small_cfg(variant=variant))
    B, T = 5, 7
    obs, prev, act = torch.randn(B, T + 1, 9), torch.rand(B, T, 3) * 2 - 1, torch.rand(B, T, 3) * 2 - 1
    batch = {"lam": torch.full((B,), lam)}
    torch.manual_seed(3)
    v2 = split._target_values(obs, prev, act, 0, batch)
    torch.manual_seed(3)
    v1 = scalar._target_values(obs, prev, act, 0, {})
    assert v2.shape == (B, T, 2) and v1.shape == (B, T)
    assert torch.allclose(v2[..., 0] - lam * v2[..., 1], v1, atol=1e-5)
    o = obs[:, :T]
    m = split.critics[0].memory(o, prev)[0]
    from deeprl.rsd4.agent import combine

    q2 = combine(split.critics[0].head(o, act, m), batch["lam"])
    assert torch.allclose(q2, scalar.critics[0].head(o, act, scalar.critics[0].memory(o, prev)[0]), atol=1e-5)
    ob = np.random.default_rng(1).normal(size=(4, 9)).astype(np.float32)
    pa = -np.ones((4, 3), np.float32)
    a2, _ = split.act(ob, pa, split.initial_state(), lam=lam)
    a1, _ = scalar.act(ob, pa, scalar.initial_state())
    assert np.allclose(a2, a1, atol=1e-6)
    if len(split.actors) > 1:
        with pytest.raises(ValueError, match="lam"):
            split.act(ob, pa, split.initial_state())


def test_split_critic_regresses_each_component_on_its_own_reward(tmp_path):
    """Training end to end (calibrate, BPTT windows too) and the targets: with gamma = 0 each head's target
    is its own reward component, so the loss reported is the sum of the two per-component losses."""
    cfg = small_cfg(split_critic=True, dual="calibrate", episodes=4, eval_every=2)
    summary = train(cfg, tmp_path / "a", progress=False)
    assert np.isfinite(summary["throughput"]) and np.isfinite(summary["energy_per_slot"])
    tr = Trainer(small_cfg(split_critic=True, dual="calibrate", bptt_window=5, burn_in=2, gamma=0.0), tmp_path / "b")
    for e in range(3):
        r = tr.run_episode(e, explore=True, lam=0.1)
        for i in range(tr.env.n_users):
            tr.replay.add({k: r[k][i] for k in ("obs", "act", "prev_act", "S", "E")}
                          | {"beta": np.full(r["S"].shape[1], tr.inst.beta[i], np.float32)})
    batch = tr.sample_batch()
    assert batch["reward_parts"].shape == (*batch["reward"].shape, 2) and batch["lam"].shape == (4,)
    lam = batch["lam"][:, None]
    assert torch.allclose(batch["reward_parts"][..., 0] - lam * batch["reward_parts"][..., 1], batch["reward"],
                          atol=1e-5)
    critic = tr.agent.critics[0]
    with torch.no_grad():
        q, _ = critic(batch["obs"][:, :-1], batch["act"], batch["prev_act"], tr.agent._burn_in(critic, batch, True))
    mask = batch["filled"]
    expected = (((q - batch["reward_parts"]) ** 2).sum(-1) * mask).sum() / mask.sum()
    stats = tr.agent.update([batch, tr.sample_batch()])
    assert stats["critic_loss_1"] == pytest.approx(float(expected), rel=1e-5)


def test_ascent_scores_the_selected_weights_at_the_lambda_they_were_validated_at(tmp_path):
    """With dual ascent lambda keeps moving after the selected evaluation (and is frozen at lambda_bar at
    90%); the final score must use the selected snapshot's lambda, the input g(t) it was validated with."""
    cfg = small_cfg(episodes=10, eval_every=2, budget=1e6, dual="ascent", dual_lr_frac=0.1)
    tr = Trainer(cfg, tmp_path)
    assert tr.train(stop_after=8, progress=False) is None
    tr.best["throughput"] = float("inf")  # keep the episode-8 snapshot
    lam_8 = tr.best["lam"]
    summary = tr.train(progress=False)
    assert tr.best["episode"] == 8
    frozen = tr.dual.averaged()
    assert summary["lambda"] == lam_8 and abs(frozen - lam_8) > 1e-6
