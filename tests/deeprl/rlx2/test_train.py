"""End to end on Pendulum-v1: short sparse TD3 and SAC runs keep their target sparsity and invariants,
and a run interrupted at an episode end and resumed from its checkpoint equals an uninterrupted one
bit for bit (weights, masks, optimiser states, logs, FLOPs)."""

import json

import pytest
import torch

from deeprl.rlx2.config import RLx2Config
from deeprl.rlx2.train import open_run, start_run


def _cfg(algo: str, **kw) -> RLx2Config:
    base = dict(algo=algo, env="Pendulum-v1", total_steps=700, seed=3, hidden=32, batch_size=32,
                actor_sparsity=0.9, critic_sparsity=0.8, topology="rigl", topology_interval=100,
                multistep="delayed", n_step=3, t_switch=200, buffer_min=300, buffer_check_interval=200,
                buffer_check_size=128, warmup=300, eval_interval=300, eval_episodes=1, checkpoint_interval=10_000,
                log_interval=100, progress=False)
    base.update(kw)
    return RLx2Config(**base)


def _tensors(run) -> dict[str, torch.Tensor]:
    out = {}
    for key, sd in run.agent.state_dict().items():
        if isinstance(sd, dict):
            for k, v in torch.utils._pytree.tree_flatten_with_path(sd)[0]:
                if torch.is_tensor(v):
                    out[f"{key}{k}"] = v
        elif torch.is_tensor(sd):
            out[key] = sd
    for name, tr in run.agent.trainers.items():
        for k, m in tr.trainer.masks[name].items():
            out[f"mask/{name}/{k}"] = m
    return out


@pytest.mark.parametrize("algo", ["td3", "sac"])
def test_short_sparse_run_keeps_sparsity_and_resumes_exactly(algo, tmp_path):
    cfg = _cfg(algo)
    full = start_run(cfg, tmp_path / "full")
    s_full = full.train()
    # target sparsity kept (ER per-layer rounding only), invariants I1 and I5 hold at the end
    assert s_full["actor_sparsity"] == pytest.approx(0.9, abs=2e-3)
    assert s_full["critic_sparsity"] == pytest.approx(0.8, abs=2e-3)
    for name, tr in full.agent.trainers.items():
        tr.trainer.check_invariants()
        assert len(tr.trainer.history) > 0, f"{name}: no topology update happened"
    crit_t = full.agent.critic_trainer.trainer
    shared = crit_t.target_masks(full.agent.critic_target)
    assert all(shared[k] is crit_t.masks["critic"][k] for k in shared)
    assert 0.05 < s_full["train_flops_ratio"] < 0.5 and s_full["inference_flops_ratio"] < 0.2
    assert full.nstep.n(full.agent.iteration) == 3  # the delayed switch to 3-step happened
    assert (tmp_path / "full" / "summary.json").exists()

    part = start_run(cfg, tmp_path / "part")
    assert part.train(stop_after=350) is None
    assert part.step == 400  # Pendulum episodes are 200 steps: stopped at the first episode end after 350
    resumed = open_run(tmp_path / "part")
    assert resumed.step == 400
    s_res = resumed.train()
    a, b = _tensors(full), _tensors(resumed)
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    for key in ("score", "final_eval_return", "train_flops_ratio", "train_flops_sparse", "buffer_size"):
        assert s_res[key] == s_full[key], key
    assert (tmp_path / "full" / "metrics.csv").read_text() == (tmp_path / "part" / "metrics.csv").read_text()


def test_dense_cli_run_interrupt_resume_with_adaptive_nstep(tmp_path, capsys):
    """Through the CLI: a dense TD3 run (same code path, no masks) stopped by --stop-after and continued by
    --resume; the adaptive n-step rule (eq. 23) switches after 3 calm checks (huge threshold here)."""
    out = tmp_path / "d"
    args = ["--dense", "--env", "Pendulum-v1", "--total-steps", "600", "--warmup", "200", "--seed", "1",
            "--hidden", "32", "--batch-size", "32", "--multistep", "adaptive", "--t-switch", "10000",
            "--delta-switch", "10", "--buffer-check-interval", "100", "--dynamic-buffer", "off",
            "--eval-interval", "300", "--eval-episodes", "1", "--no-progress", "--out", str(out)]
    rc, stdout, _ = _cli(capsys, *args, "--stop-after", "300")
    assert rc == 0 and "--resume" in stdout and not (out / "summary.json").exists()
    rc, _, _ = _cli(capsys, *args)  # the folder is taken: runs never overwrite
    assert rc == 2
    rc, stdout, _ = _cli(capsys, "--resume", str(out), "--no-progress")
    assert rc == 0
    s = json.loads((out / "summary.json").read_text())
    assert s["steps"] == 600 and s["actor_sparsity"] == 0.0 and s["train_flops_ratio"] == 1.0
    assert s["n_step_final"] == 3
    ck = torch.load(sorted((out / "checkpoints").glob("*.pt"))[-1], weights_only=False)
    assert ck["sparse"] == {} and set(ck["dense_groups"]) == {"actor", "critic"}
    assert (out / "metrics.csv").read_text().count("nstep/policy_change") >= 3


def _cli(capsys, *args: str) -> tuple[int, str, str]:
    from deeprl.__main__ import main

    try:
        rc = main(["rlx2", *args])
    except SystemExit as exc:  # argparse --help / one-line errors
        rc = exc.code
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_cli_help_and_bad_input(tmp_path, capsys):
    rc, out, _ = _cli(capsys, "--help")
    assert rc == 0
    for flag in ("--algo", "--env", "--actor-sparsity", "--critic-sparsity", "--total-steps", "--seed", "--out",
                 "--device", "--dense", "--topology", "--multistep", "--n-step", "--dynamic-buffer", "--resume"):
        assert flag in out
    for args, needle in [(("--actor-sparsity", "1.5"), "--actor-sparsity"),
                         (("--env", "NoSuchEnv-v9", "--out", str(tmp_path / "x")), "--env"),
                         (("--env", "CartPole-v1", "--out", str(tmp_path / "y")), "continuous"),
                         (("--warmup", "5000", "--total-steps", "100"), "--warmup"),
                         (("--resume", str(tmp_path / "nothing")), "--resume")]:
        rc, _, err = _cli(capsys, *args)
        assert rc == 2 and len(err.strip().splitlines()) == 1 and needle in err, (args, err)
