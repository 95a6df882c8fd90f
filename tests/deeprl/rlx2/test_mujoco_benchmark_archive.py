"""The MuJoCo benchmark driver keeps finished runs in an archive and reports from it (benchmarks/rlx2_mujoco.py).

Tier A does not fit one sitting on 2 cores, so runs are made a few seeds at a time and accumulated; these tests
pin the rules that make that safe: an archived run is never run again, a finished run is archived with the code
commit and command that made it, the report reads archived runs, and a failed run is reported, not raised.
"""

from __future__ import annotations

import importlib
import json

import pytest


@pytest.fixture(scope="module")
def bench():
    return importlib.import_module("benchmarks.rlx2_mujoco")  # the repository root is on sys.path under pytest


def fake_summary(score: float, seed: int) -> dict:
    evals = [{"step": 1000 * (i + 1), "mean": score + i, "std": 1.0} for i in range(4)]
    return {
        "seed": seed, "score": score, "evaluations": evals, "actor_sparsity": 0.9, "critic_sparsity": 0.85,
        "train_flops_ratio": 0.2, "inference_flops_ratio": 0.1, "total_size_ratio": 0.12, "steps_per_second": 80.0,
    }


def test_archived_run_is_not_run_again(bench, tmp_path):
    archived = tmp_path / "archive" / "seed0.json"
    archived.parent.mkdir(parents=True)
    archived.write_text(json.dumps({"score": 123.0}))
    # arguments that would make a real run fail at once: reaching them would raise
    out = bench.launch(["--no-such-flag"], tmp_path / "run", archived, "abc")
    assert out == {"score": 123.0}
    assert not (tmp_path / "run.log").exists()


def test_finished_run_is_archived_with_code_and_command(bench, tmp_path):
    run_dir = tmp_path / "runs" / "seed3"
    run_dir.mkdir(parents=True)
    (run_dir / "summary.json").write_text(json.dumps(fake_summary(10.0, 3)))
    budget = dict(bench.TIER_A)
    archived = bench.archive_file(tmp_path / "archive", budget, "Hopper-v5", "rlx2", 3)
    assert archived == tmp_path / "archive" / "T300000" / "Hopper-v5" / "rlx2" / "seed3.json"
    args = bench.run_args("Hopper-v5", "rlx2", 3, budget, run_dir, "cpu")
    bench.launch(args, run_dir, archived, "deadbeef")
    kept = json.loads(archived.read_text())
    assert kept["score"] == 10.0 and kept["code_version"] == "deadbeef"
    assert kept["command"] == "python -m deeprl rlx2 " + " ".join(args)
    assert "--seed 3" in kept["command"] and "--actor-sparsity 0.98" in kept["command"]


def test_failed_run_is_reported_not_raised(bench, tmp_path):
    jobs = [(["--total-steps", "-5"], tmp_path / "bad" / "seed0", tmp_path / "archive" / "seed0.json")]
    failed = bench.run_all(jobs, workers=1, backend="local", ray_address=None, code="x")
    assert len(failed) == 1 and "failed (exit 2)" in failed[0] and "bad/seed0" in failed[0]
    assert not (tmp_path / "archive" / "seed0.json").exists()


def test_report_reads_the_archive(bench, tmp_path):
    budget = {**bench.TIER_A, "total": 4000, "warmup": 500, "last": 2, "eval_interval": 1000}
    archive, out = tmp_path / "archive", tmp_path / "runs"
    scores = {"dense": [100.0, 200.0], "rlx2": [90.0, 150.0]}
    for m, ss in scores.items():
        for seed, sc in enumerate(ss):
            f = bench.archive_file(archive, budget, "Pendulum-v1", m, seed)
            f.parent.mkdir(parents=True, exist_ok=True)
            f.write_text(json.dumps(fake_summary(sc, seed)))
    res = bench.report(out, ["Pendulum-v1"], ["dense", "rlx2"], [0, 1], budget, tmp_path / "fig", 0, archive)
    r = res["envs"]["Pendulum-v1"]["methods"]
    assert r["dense"]["score_mean"] == 150.0 and r["rlx2"]["scores"] == [90.0, 150.0]
    assert r["rlx2"]["P"][0] == pytest.approx(120.0 / 150.0)
    tag = bench.budget_tag(budget)
    assert (tmp_path / "fig" / f"rlx2_mujoco_{tag}_curves.png").exists()
    with pytest.raises(FileNotFoundError, match="rlx2 seed 2"):
        bench.load_summary(out, archive, budget, "Pendulum-v1", "rlx2", 2)


def test_report_takes_per_env_the_seeds_finished_for_every_method(bench, tmp_path):
    """Envs accumulate seeds at different paces: each env is reported on its seeds finished for every method
    (paired), a seed finished for one method only is left out, and an env with none is an error."""
    budget = {**bench.TIER_A, "total": 4000, "warmup": 500, "last": 2, "eval_interval": 1000}
    archive, out = tmp_path / "archive", tmp_path / "runs"
    done = {("Pendulum-v1", m, s): 100.0 + s for m in ("dense", "rlx2") for s in (0, 1, 2)}
    done[("Pendulum-v1", "dense", 3)] = 500.0  # rlx2 seed 3 not finished: seed 3 is left out
    done.update({("MountainCarContinuous-v0", m, s): 10.0 + s for m in ("dense", "rlx2") for s in (0, 1)})
    for (env, m, s), sc in done.items():
        f = bench.archive_file(archive, budget, env, m, s)
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(json.dumps(fake_summary(sc, s)))
    envs = ["Pendulum-v1", "MountainCarContinuous-v0"]
    res = bench.report(out, envs, ["dense", "rlx2"], [0, 1, 2, 3], budget, tmp_path / "fig", 0, archive)
    assert res["envs"]["Pendulum-v1"]["seeds"] == [0, 1, 2]
    assert res["envs"]["Pendulum-v1"]["methods"]["dense"]["scores"] == [100.0, 101.0, 102.0]
    assert res["envs"]["MountainCarContinuous-v0"]["seeds"] == [0, 1]
    table = (tmp_path / "fig" / f"rlx2_mujoco_{bench.budget_tag(budget)}.md").read_text()
    assert "| Pendulum-v1 | rlx2 | 3 |" in table and "| MountainCarContinuous-v0 | dense | 2 |" in table
    with pytest.raises(FileNotFoundError, match="no seed of"):
        bench.report(out, ["Pendulum-v1"], ["dense", "rlx2"], [7], budget, tmp_path / "fig", 0, archive)
