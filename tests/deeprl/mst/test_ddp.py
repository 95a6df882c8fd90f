"""``torchrun --nproc_per_node 2`` (gloo, CPU): ranks agree bit for bit, and equal one process with
gradient accumulation 2 (same global batch; micro-batch j draws from generator (seed, j))."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from deeprl.mst.train import GROUP, TrainConfig, build_run, mask_checksum

ARGS = ["--config", "tiny", "--data", "fixture", "--method", "mst", "--steps", "12", "--grad-accum", "2",
        "--eval-iters", "2", "--eval-interval", "6", "--sample-tokens", "10", "--seed", "1", "--no-progress",
        "--no-tensorboard"]


@pytest.mark.slow
def test_two_process_gloo_ranks_agree_and_match_single_process(tmp_path: Path) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(__file__).resolve().parents[3])}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "deeprl", "mst", *ARGS, "--data-dir", str(tmp_path / "data"), "--out", str(tmp_path / "ddp")]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    res = json.loads((tmp_path / "ddp" / "tiny-mst-seed1" / "result.json").read_text())
    assert res["world_size"] == 2 and res["iterations"] == 12
    ranks = res["rank_checksums"]
    assert len(ranks) == 2 and ranks[0] == ranks[1], ranks      # identical masks and weights on both ranks
    assert res["mask_resyncs"] == 0                             # agreement without any broadcast repair
    assert len(res["updates"]) == 2                             # updates at t = 5, 10

    single = build_run(TrainConfig(config="tiny", data="fixture", data_dir=str(tmp_path / "data"), method="mst",
                                   steps=12, grad_accum=2, eval_iters=2, eval_interval=6, sample_tokens=0,
                                   seed=1, progress=False, tensorboard=False), out=tmp_path / "one")
    one = single.train()
    assert mask_checksum(single.trainer.masks[GROUP]) == ranks[0]["masks"]  # same topology as 1 process
    assert one["final_val_loss"] == pytest.approx(res["final_val_loss"], abs=1e-4)
    assert one["flops_total"] == pytest.approx(res["flops_total"])
    assert torch.isfinite(torch.tensor(res["final_val_loss"]))
