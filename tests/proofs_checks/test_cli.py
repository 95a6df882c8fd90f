"""``python -m proofs_checks``: results.json, figures, exit codes (0 all hold, 1 a check fails, 2 bad input)."""

import json
import subprocess
import sys

import numpy as np

import proofs_checks.__main__ as cli
from proofs_checks.core import CheckResult


def test_quick_subset_writes_results_and_figures(tmp_path):
    rc = cli.main(["--quick", "--only", "elliptical,concentration", "--out", str(tmp_path / "o"),
                   "--figures", str(tmp_path / "f"), "--seed", "3"])
    assert rc == 0
    res = json.loads((tmp_path / "o" / "quick" / "results.json").read_text())
    assert res["all_hold"] and res["n_checks"] == len(res["rows"]) > 20
    assert res["command"].startswith("python -m proofs_checks")
    assert (tmp_path / "f" / "proofs_elliptical_potential.png").stat().st_size > 1000
    # a second run never overwrites the first
    assert cli.main(["--quick", "--only", "concentration", "--out", str(tmp_path / "o"), "--figures", ""]) == 0
    assert (tmp_path / "o" / "quick-2" / "results.json").exists()


def test_failing_check_exits_1_and_saves_case(tmp_path, monkeypatch):
    def broken(rng, quick):
        return [CheckResult("fake-lemma", "x", 2.0, 1.0, "le", 0.0, "test", {"x": np.arange(3)})]

    monkeypatch.setattr(cli, "_registry", lambda: {"elliptical": broken})
    rc = cli.main(["--only", "elliptical", "--out", str(tmp_path), "--figures", ""])
    assert rc == 1
    res = json.loads((tmp_path / "full" / "results.json").read_text())
    assert not res["all_hold"] and res["failure_cases"]
    assert np.load(res["failure_cases"][0])["x"].tolist() == [0, 1, 2]


def test_bad_arguments_exit_2_with_one_line():
    for args in (["--seed", "-1"], ["--only", "nope"], ["--bogus"]):
        p = subprocess.run([sys.executable, "-m", "proofs_checks", *args], capture_output=True, text=True)
        assert p.returncode == 2
        assert len(p.stderr.strip().splitlines()) == 1 and "error" in p.stderr
        assert "Traceback" not in p.stderr
