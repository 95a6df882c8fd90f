"""Training: a few steps reduce the loss, masks stay exact, resume equals the uninterrupted run, CLI."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import torch

from deeprl.mst.cli import main
from deeprl.mst.train import GROUP, TrainConfig, build_run


def _cfg(tmp: Path, **kw) -> TrainConfig:
    base = dict(config="tiny", data="fixture", data_dir=str(tmp / "data"), method="mst", steps=20, seed=3,
                eval_interval=10, eval_iters=2, log_interval=5, ckpt_interval=100, sample_tokens=20,
                tensorboard=False, progress=False)
    base.update(kw)
    return TrainConfig(**base)


def _losses(run_dir: Path) -> dict[int, float]:
    with open(run_dir / "metrics.csv") as fh:
        return {int(r["step"]): float(r["value"]) for r in csv.DictReader(fh) if r["tag"] == "train/loss"}


def test_a_few_steps_reduce_the_loss_and_keep_masks_exact(tmp_path: Path) -> None:
    run = build_run(_cfg(tmp_path, steps=40, lr=1e-2, min_lr=1e-3), out=tmp_path / "runs")
    before = run.evaluate("val")
    res = run.train()
    assert res["final_val_loss"] < before - 0.3, (before, res["final_val_loss"])
    run.trainer.check_invariants()                       # W = 0 outside every mask after 40 AdamW steps
    assert run.trainer.t == 40 and len(run.trainer.history) == 7  # updates at t = 5, 10, ..., 35
    assert res["flops_ratio"] < 0.45 and res["iterations"] == 40
    assert (Path(res["run_dir"]) / "sample.txt").read_text()
    assert res["tokens"] == 40 * 4 * 32
    # The target of the last update (t = 35) is S(35) = 0.9 − 0.4·(35 − 30)/10 = 0.7 (eq. (7)).
    last = run.trainer.history[-1]
    assert last["t"] == 35 and last["target_sparsity"] == pytest.approx(0.7)
    assert res["final_density"] == pytest.approx(0.3, abs=0.01)


def test_dense_run_counts_dense_flops(tmp_path: Path) -> None:
    run = build_run(_cfg(tmp_path, method="dense", steps=6, eval_interval=6), out=tmp_path / "runs")
    res = run.train()
    assert res["flops_ratio"] == pytest.approx(1.0)
    per_token = 6 * run.mcfg.n_linear() + 12 * 2 * 32 * 32
    assert res["flops_total"] == pytest.approx(6 * 4 * 32 * per_token)
    assert run.trainer is None and res["final_density"] == 1.0


def test_resume_equals_uninterrupted(tmp_path: Path) -> None:
    full = build_run(_cfg(tmp_path), out=tmp_path / "a")
    res_full = full.train()
    part = build_run(_cfg(tmp_path), out=tmp_path / "b")
    assert part.train(stop_after=10) == {}
    resumed = build_run(_cfg(tmp_path), resume=part.run_dir)
    assert resumed.it == 10
    res_resumed = resumed.train()
    for k, m in full.trainer.masks[GROUP].items():
        assert torch.equal(m, resumed.trainer.masks[GROUP][k]), k
    for k, v in full.model.state_dict().items():
        assert torch.equal(v, resumed.model.state_dict()[k]), k
    assert _losses(full.run_dir) == _losses(resumed.run_dir)
    assert res_full["final_val_loss"] == res_resumed["final_val_loss"]
    assert res_full["flops_total"] == res_resumed["flops_total"]
    assert res_full["sample"] == res_resumed["sample"]


def test_cli_help_and_bad_input(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for flag in ("--config", "--method", "--steps", "--batch-size", "--seed", "--out", "--device", "--resume"):
        assert flag in out
    with pytest.raises(SystemExit) as exc:
        main(["--method", "prune"])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--method" in err
    with pytest.raises(SystemExit) as exc:
        main(["--config", "tiny", "--data", "/nonexistent/file.txt", "--no-progress"])
    assert exc.value.code == 2
    assert "--data" in capsys.readouterr().err


def test_cli_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["--config", "tiny", "--data", "fixture", "--data-dir", str(tmp_path / "d"), "--steps", "6",
               "--method", "rigl", "--sparsity", "0.8", "--out", str(tmp_path / "runs"), "--no-progress",
               "--eval-iters", "2", "--sample-tokens", "10", "--no-tensorboard"])
    assert rc == 0
    out = capsys.readouterr().out
    assert "final val loss" in out and "x dense" in out
    assert (tmp_path / "runs" / "tiny-rigl-seed0" / "result.json").exists()
