"""benchmarks/mast_cpu.py keeps finished runs in an archive (benchmarks/run_archive.py) and reads it back.

E-M1 at the spec budget does not fit one sitting on 2 cores; these tests pin what makes accumulating it
over sittings safe: an archived run is not run again, a finished run is archived with the command of a fresh
run and the code commit, the report reads archived runs, and other settings never share an archive folder.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def bench():
    return importlib.import_module("benchmarks.mast_cpu")  # the repository root is on sys.path under pytest


def parse(bench, tmp_path: Path, *extra: str):
    return bench.build_parser().parse_args(
        ["run", "--tasks", "lbf", "--arms", "dense", "--seeds", "0,1", "--steps", "3000",
         "--out", str(tmp_path / "runs"), "--archive", str(tmp_path / "archive"), *extra])


def test_budget_tag_separates_settings(bench, tmp_path):
    base = bench.budget_tag(parse(bench, tmp_path))
    assert base == "qmix_3000steps_sp0.9_eval10000x20"
    assert bench.budget_tag(parse(bench, tmp_path, "--sparsity", "0.8")) != base
    with_extra = bench.budget_tag(parse(bench, tmp_path, "--extra=--optimizer rmsprop"))
    assert with_extra.startswith(base + "_extra") and with_extra != bench.budget_tag(
        parse(bench, tmp_path, "--extra=--optimizer adam"))


def test_finished_run_is_archived_and_not_run_again(bench, tmp_path):
    args = parse(bench, tmp_path)
    run = bench.work_dir(args) / bench.run_name("lbf", "dense", 0)
    run.mkdir(parents=True)
    (run / "summary.json").write_text(json.dumps({"score": 0.5}))
    assert bench._job_cmd(args, "lbf", "dense", 0) is None  # finished in its folder
    cmd = bench._job_cmd(args, "lbf", "dense", 1)
    assert cmd is not None and "--seed" in cmd and cmd[cmd.index("--seed") + 1] == "1"
    bench.archive_finished(args, [("lbf", "dense", 0), ("lbf", "dense", 1)], "abc123")
    kept = json.loads(bench.archive_file(args, "lbf", "dense", 0).read_text())
    assert kept["score"] == 0.5 and kept["code_version"] == "abc123"
    assert kept["command"].startswith("python -m deeprl mast") and "--seed 0" in kept["command"]
    assert not bench.archive_file(args, "lbf", "dense", 1).exists()  # not finished: nothing archived
    # the run folder gone (a new machine): the archive alone keeps the run from being run again
    (run / "summary.json").unlink()
    run.rmdir()
    assert bench._job_cmd(args, "lbf", "dense", 0) is None


def test_collect_reads_the_archive(bench, tmp_path):
    args = parse(bench, tmp_path)
    for seed, score in ((0, 0.25), (1, 0.75)):
        f = bench.archive_file(args, "lbf", "dense", seed)
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(json.dumps({"score": score}))
    runs = bench.collect(args)
    assert [r["score"] for r in runs["lbf"]["dense"]] == [0.25, 0.75]
    assert bench.archive_file(parse(bench, tmp_path, "--archive", "none"), "lbf", "dense", 0) is None


def test_runs_of_other_settings_in_the_same_out_are_not_taken(bench, tmp_path):
    """A finished run at another budget or with other --extra flags in the same --out is neither read back
    nor resumed as this sweep's; the figure name carries --extra so it never overwrites the plain one's."""
    plain = parse(bench, tmp_path)
    scaled = parse(bench, tmp_path, "--extra=--input-scale=bounds")
    longer = parse(bench, tmp_path, "--steps", "6000")
    run = bench.work_dir(plain) / bench.run_name("lbf", "dense", 0)
    run.mkdir(parents=True)
    (run / "summary.json").write_text(json.dumps({"score": 0.5}))
    assert bench._job_cmd(plain, "lbf", "dense", 0) is None
    for other in (scaled, longer):
        cmd = bench._job_cmd(other, "lbf", "dense", 0)
        assert cmd is not None and "--resume" not in cmd
        assert cmd[cmd.index("--out") + 1] == str(bench.work_dir(other)) != str(bench.work_dir(plain))
        assert bench.collect(other)["lbf"]["dense"] == []
    assert "--input-scale=bounds" in bench._job_cmd(scaled, "lbf", "dense", 0)
    assert bench.extra_slug(plain) == "" and bench.extra_slug(scaled) == "_input-scale-bounds"


def test_task_extra_gives_one_task_its_own_flags_and_archive_tag(bench, tmp_path):
    """--task-extra lbf=FLAGS: lbf's runs carry FLAGS (and their tag is the one --extra=FLAGS would give),
    spread's keep --extra; the report folder joins the two tags; a TASK outside --tasks exits 2."""
    common = ["run", "--tasks", "lbf,spread", "--arms", "dense", "--seeds", "0", "--steps", "3000",
              "--out", str(tmp_path / "runs"), "--archive", str(tmp_path / "archive")]
    args = bench.parse_args([*common, "--extra=--no-time-limit-bootstrap",
                             "--task-extra=lbf=--no-time-limit-bootstrap --input-scale=bounds"])
    both = bench.parse_args([*common, "--extra=--no-time-limit-bootstrap --input-scale=bounds"])
    only = bench.parse_args([*common, "--extra=--no-time-limit-bootstrap"])
    assert bench.budget_tag(args, "lbf") == bench.budget_tag(both, "lbf") != bench.budget_tag(args, "spread")
    assert bench.budget_tag(args, "spread") == bench.budget_tag(only, "spread")
    lbf_cmd, spread_cmd = bench.fresh_cmd(args, "lbf", "dense", 0), bench.fresh_cmd(args, "spread", "dense", 0)
    assert lbf_cmd[-2:] == ["--no-time-limit-bootstrap", "--input-scale=bounds"]
    assert spread_cmd[-1] == "--no-time-limit-bootstrap" and "--input-scale=bounds" not in spread_cmd
    assert lbf_cmd[lbf_cmd.index("--out") + 1] == str(bench.work_dir(both, "lbf"))
    assert bench.archive_file(args, "spread", "dense", 0) == bench.archive_file(only, "spread", "dense", 0)
    assert bench.report_dir(args).name == "+".join(sorted([bench.budget_tag(args, "lbf"),
                                                          bench.budget_tag(args, "spread")]))
    assert bench.report_dir(only) == bench.work_dir(only, "lbf")  # one tag: the work folder, as before
    assert bench.extra_slug(args, "lbf") == "_no-time-limit-bootstrap-input-scale-bounds"
    with pytest.raises(SystemExit) as e:
        bench.parse_args([*common, "--task-extra=rware=--input-scale=bounds"])
    assert e.value.code == 2


def test_dense_runs_are_shared_across_sparsities(bench, tmp_path):
    """Dense QMIX ignores --sparsity, so a 0.95 sweep (E-M2) launches, archives and reads its dense arm under
    the 0.9 tag, while its sparse arms get their own; the figure name and acceptance floor follow the sparsity."""
    em1, em2 = parse(bench, tmp_path), parse(bench, tmp_path, "--sparsity", "0.95")
    assert bench.budget_tag(em2, "lbf", "dense") == bench.budget_tag(em1, "lbf", "dense") == bench.budget_tag(em1)
    assert bench.budget_tag(em2, "lbf", "mast") != bench.budget_tag(em1, "lbf", "mast")
    assert bench.archive_file(em2, "lbf", "dense", 0) == bench.archive_file(em1, "lbf", "dense", 0)
    dense_cmd, mast_cmd = bench.fresh_cmd(em2, "lbf", "dense", 0), bench.fresh_cmd(em2, "lbf", "mast", 0)
    assert dense_cmd == bench.fresh_cmd(em1, "lbf", "dense", 0)  # the very command the E-M1 sweep ran
    assert dense_cmd[dense_cmd.index("--sparsity") + 1] == "0.9"
    assert mast_cmd[mast_cmd.index("--sparsity") + 1] == "0.95"
    assert mast_cmd[mast_cmd.index("--out") + 1] == str(bench.work_dir(em2, "lbf", "mast"))
    f = bench.archive_file(em1, "lbf", "dense", 1)
    f.parent.mkdir(parents=True, exist_ok=True)
    f.write_text(json.dumps({"score": 0.5}))
    assert bench._job_cmd(em2, "lbf", "dense", 1) is None  # the E-M1 dense run serves E-M2
    assert [r["score"] for r in bench.collect(em2)["lbf"]["dense"]] == [0.5]
    assert bench.extra_slug(em1) == "" and bench.extra_slug(em2) == "_sp0.95"
    results = {"tasks": {"lbf": {"arms": {"mast": {"p_norm": 0.87}}}}}
    assert not bench.acceptance(results, 0.9)["P~(MAST) >= 0.90 on every task"]["pass"]
    assert bench.acceptance(results, 0.95)["P~(MAST) >= 0.85 on every task"]["pass"]


def test_task_extra_is_honoured_from_build_parser_alone(bench, tmp_path):
    """A namespace from build_parser (raw TASK=FLAGS strings, not parse_args's dict) gives the same flags."""
    argv = ["run", "--tasks", "lbf,spread", "--out", str(tmp_path / "runs"), "--extra=--no-time-limit-bootstrap",
            "--task-extra=lbf=--input-scale=bounds"]
    raw, parsed = bench.build_parser().parse_args(argv), bench.parse_args(argv)
    for task in ("lbf", "spread"):
        assert bench.extra_flags(raw, task) == bench.extra_flags(parsed, task)
    assert bench.extra_flags(raw, "lbf") == ["--input-scale=bounds"]
    assert bench.extra_flags(raw, "spread") == ["--no-time-limit-bootstrap"]


def test_a_run_is_archived_when_it_finishes_not_when_the_sweep_does(bench, tmp_path, monkeypatch):
    args = parse(bench, tmp_path, "--workers", "1")
    calls = []

    def fake_run(cmd, log):  # seed 0 finishes; the sweep is then stopped during seed 1
        calls.append(cmd)
        if len(calls) == 2:
            raise KeyboardInterrupt
        run = bench.work_dir(args) / bench.run_name("lbf", "dense", 0)
        run.mkdir(parents=True)
        (run / "summary.json").write_text(json.dumps({"score": 0.5}))
        return 0

    monkeypatch.setattr(bench, "_run_subprocess", fake_run)
    with pytest.raises(KeyboardInterrupt):
        bench.cmd_run(args)
    assert json.loads(bench.archive_file(args, "lbf", "dense", 0).read_text())["score"] == 0.5
    assert not bench.archive_file(args, "lbf", "dense", 1).exists()


def test_report_prints_the_configured_budget_and_the_random_policy_basis(bench, tmp_path):
    """The budget line is --steps, with the range the runs actually did beside it (an episode in progress at
    the budget is finished), not the env_steps of whichever summary came first; eq. (39)'s random score says
    how many runs' random evaluations it averages."""
    args = parse(bench, tmp_path, "--arms", "dense,mast", "--figures", str(tmp_path / "fig"))
    evals = [{"t_env": 0, "return": 0.0}, {"t_env": 3000, "return": 0.5}]
    for arm, seed, steps, rand in (("dense", 0, 3042, 0.1), ("dense", 1, 3007, 0.3),
                                   ("mast", 0, 3019, 0.2), ("mast", 1, 3000, 0.2)):
        f = bench.archive_file(args, "lbf", arm, seed)
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(json.dumps({"score": 0.5 + 0.1 * seed, "env_steps": steps, "evals": evals,
                                 "random_eval": {"return": rand}, "density/all": 1.0, "train_flops_ratio": 1.0,
                                 "inference_flops_ratio": 1.0}))
    assert bench.cmd_report(args) == 0
    res = json.loads((bench.report_dir(args) / "results.json").read_text())
    assert res["budget_env_steps"] == 3000 and res["env_steps_run"] == [3000, 3042]
    assert res["tasks"]["lbf"]["random_score"] == pytest.approx(0.2) and res["tasks"]["lbf"]["random_runs"] == 4
    md = (bench.report_dir(args) / "results.md").read_text()
    assert md.splitlines()[0].startswith("E-M1, sparsity 0.9, budget 3000 env steps per run (runs ended at 3000-3042")
    assert "- lbf: random policy 0.200 (mean of the random-policy evaluations of 4 runs)" in md
    assert (tmp_path / "fig" / "mast_cpu_lbf_3k.png").exists()
