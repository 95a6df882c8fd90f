"""End to end: short runs on each default task through the CLI; resume equals uninterrupted."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import torch

from deeprl.common import latest_checkpoint, load_checkpoint
from deeprl.mast.cli import main
from deeprl.mast.config import MastConfig
from deeprl.mast.train import train

SMALL = ["--batch-size", "4", "--buffer-size", "16", "--capacity-on", "4", "--eval-episodes", "2",
         "--eval-interval", "150", "--log-interval", "100", "--mask-update-episodes", "2",
         "--target-update-episodes", "3", "--no-progress", "--no-tensorboard"]


@pytest.mark.parametrize("task,algorithm", [("lbf", "qmix"), ("spread", "qmix"), ("spread", "wqmix"),
                                            ("lbf", "res")])
def test_short_run_end_to_end(tmp_path: Path, task: str, algorithm: str, capsys: pytest.CaptureFixture) -> None:
    rc = main(["--task", task, "--algorithm", algorithm, "--steps", "300", "--seed", "1",
               "--out", str(tmp_path), *SMALL])
    assert rc == 0
    run = tmp_path / f"{algorithm}-{task}-mast-seed1"
    s = json.loads((run / "summary.json").read_text())
    assert s["env_steps"] >= 300 and s["train_steps"] >= 1
    assert s["density/all"] == pytest.approx(0.1, abs=0.01)
    assert 0 < s["train_flops_ratio"] < 0.3 and 0 < s["inference_flops_ratio"] < 0.15
    assert ("success_rate" in s) == (task == "lbf")
    tags = {r["tag"] for r in csv.DictReader(open(run / "metrics.csv"))}
    assert {"eval/return", "train/loss", "train/return", "sparse/density/agent"} <= tags
    ck = load_checkpoint(latest_checkpoint(run))
    assert "masks" in ck["sparse"] and set(ck["sparse"]["masks"]) >= {"agent", "mixer"}
    assert "score" in capsys.readouterr().out
    # runs never overwrite: the same command makes a new folder
    assert main(["--task", task, "--algorithm", algorithm, "--steps", "50", "--seed", "1",
                 "--out", str(tmp_path), *SMALL]) == 0
    assert (tmp_path / f"{algorithm}-{task}-mast-seed1-2" / "summary.json").exists()


def _cfg(**kw: object) -> MastConfig:
    base = dict(task="spread", steps=600, seed=3, hidden=16, mixer_embed=8, hypernet_embed=16, batch_size=4,
                buffer_size=16, capacity_on=4, eval_interval=150, eval_episodes=2, checkpoint_interval=150,
                log_interval=100, mask_update_episodes=2, target_update_episodes=3, eps_anneal_steps=300)
    base.update(kw)
    return MastConfig.preset("mast", **base)


def test_resume_equals_uninterrupted(tmp_path: Path) -> None:
    cfg = _cfg()
    full = train(cfg, tmp_path / "full", progress=False, tensorboard=False)
    part = train(cfg, tmp_path / "split", stop_after=275, progress=False, tensorboard=False)
    assert part == {"stopped_at": 275}
    resumed = train(cfg, tmp_path / "split", resume=True, progress=False, tensorboard=False)
    assert resumed["evals"] == full["evals"]
    assert resumed["train_steps"] == full["train_steps"] and resumed["episodes"] == full["episodes"]
    assert resumed["flops"]["totals"] == full["flops"]["totals"]
    a = load_checkpoint(latest_checkpoint(tmp_path / "full"))
    b = load_checkpoint(latest_checkpoint(tmp_path / "split"))
    for net in a["learner"]["nets"]:
        for k, v in a["learner"]["nets"][net].items():
            assert torch.equal(v, b["learner"]["nets"][net][k]), (net, k)
    for g, ms in a["sparse"]["masks"].items():
        for k, m in ms.items():
            assert torch.equal(m, b["sparse"]["masks"][g][k])
    assert (tmp_path / "full" / "metrics.csv").read_text() == (tmp_path / "split" / "metrics.csv").read_text()


@pytest.mark.parametrize("argv,needle", [
    (["--sparsity", "1.5"], "--sparsity"),
    (["--task", "nope"], "task"),
    (["--steps", "0"], "--steps"),
    (["--resume", "/nonexistent/run"], "--resume"),
])
def test_bad_input_is_one_line_exit_2(argv: list[str], needle: str, capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exc:
        main(argv + ["--no-progress"])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and needle in err
