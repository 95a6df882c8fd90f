"""``python -m provable regret``: bad arguments -> one line + exit 2; same seed -> same curve; outputs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from provable.__main__ import main
from provable.harness.run import RunConfig, run_one

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("argv, needle", [
    (["regret", "--K", "0"], "--K"),
    (["regret", "--algo", "lsvi-ucb,nope"], "--algo"),
    (["regret", "--instance", "nope"], "--instance"),
    (["regret", "--param", "bogus=1"], "bogus"),
    (["regret", "--param", "novalue"], "--param"),
    (["regret", "--alpha", "1.5"], "--alpha"),
    (["regret", "--seeds", "-1"], "--seeds"),
    (["regret", "--bonus-scale", "nan"], "--bonus-scale"),
    (["regret", "--sweep", "d", "--instance", "tabular"], "--sweep d"),
    (["regret", "--instance", "hard", "--d", "4", "--H", "5", "--K", "8"], "K >="),
    (["regret", "--backend", "ray"], "--ray-address"),
    (["regret", "--backend", "ray", "--ray-address", "127.0.0.1:1", "--K", "64", "--d", "3", "--H", "3",
      "--out", "o"], "--ray-address"),
    (["regret", "--instance", "random", "--K-grid", "10,20"], "--K-grid"),
    (["regret", "--sweep", "d", "--values", "3,13"], "d must"),
    (["nope"], "unknown command"),
])
def test_bad_arguments_exit_2_with_one_line(argv: list[str], needle: str, capsys: pytest.CaptureFixture[str],
                                            monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert needle in err
    assert "Traceback" not in err


def test_existing_out_folder_is_refused(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out = tmp_path / "run"
    out.mkdir()
    (out / "results.json").write_text("{}")
    with pytest.raises(SystemExit) as exc:
        main(["regret", "--out", str(out), "--K", "64", "--seeds", "1", "--no-progress"])
    assert exc.value.code == 2
    assert "--out" in capsys.readouterr().err


def test_subprocess_exit_code(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    bad = subprocess.run([sys.executable, "-m", "provable", "regret", "--K", "zero"], capture_output=True,
                         text=True, cwd=tmp_path, env=env, timeout=120)
    assert bad.returncode == 2
    assert len(bad.stderr.strip().splitlines()) == 1 and "--K" in bad.stderr


def test_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["regret", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "--bonus-scale" in out and "--ray-address" in out and "--alpha" in out


def _small_run(out: Path, figs: Path, extra: list[str] | None = None) -> dict:
    argv = ["regret", "--algo", "lsvi-ucb,lsvi-ucb-pp", "--instance", "hard", "--d", "3", "--H", "3",
            "--K", "128", "--seeds", "2", "--workers", "1", "--no-progress", "--bootstrap", "50",
            "--out", str(out), "--figures", str(figs), *(extra or [])]
    assert main(argv) == 0
    return json.loads((out / "results.json").read_text())


def test_same_seed_same_curve_and_results_layout(tmp_path: Path) -> None:
    a = _small_run(tmp_path / "a", tmp_path / "figs_a", ["--bonus-scale", "0.05"])
    for algo in ("lsvi-ucb", "lsvi-ucb-pp"):
        for seed in ("0", "1"):
            ra = a["results"][algo]["1"][seed]
            assert ra["K"] == [8, 16, 32, 64, 128]  # K-tuned: one instance per K, K >= (d-1)^2 H / 2 = 6
            assert all(x >= 0 for x in ra["cum_regret"])
            # the same seed outside the CLI gives the same curve, bit for bit
            direct = run_one(RunConfig(algo=algo, seed=int(seed), instance="hard", K=128,
                                       params={"d": 3, "H": 3, "K": 128},
                                       hyper={"preset": "practical", "bonus_scale": 0.05}))
            assert ra["cum_regret"][-1] == float(direct["cum_regret"][1.0][-1])
            assert ra["curve_at_K=128"] == direct["cum_regret"][1.0].tolist()
    assert "python -m provable regret" in a["command"] and "--bonus-scale 0.05" in a["command"]
    kinds = {(c["check"], c["algo"]) for c in a["growth_checks"]}
    assert ("slope", "lsvi-ucb") in kinds and ("bound_ratio", "lsvi-ucb-pp") in kinds
    assert all(isinstance(c["holds"], bool) and c["statement"] for c in a["growth_checks"])
    assert (tmp_path / "figs_a" / "regret_scaling.png").stat().st_size > 10_000
    assert (tmp_path / "figs_a" / "regret_scaling.json").exists()


def test_run_one_is_deterministic_and_exact() -> None:
    cfg = RunConfig(algo="lsvi-ucb", seed=3, instance="random", K=40,
                    params={"S": 6, "A": 2, "d": 3, "H": 3}, alphas=(1.0, 0.5), hyper={"bonus_scale": 0.1})
    r1, r2 = run_one(cfg), run_one(cfg)
    for a in (1.0, 0.5):
        np.testing.assert_array_equal(r1["cum_regret"][a], r2["cum_regret"][a])
        assert np.all(r1["regret"][a] >= -1e-12)
    other = run_one(RunConfig(**{**cfg.to_dict(), "seed": 4, "alphas": (1.0, 0.5)}))
    assert not np.array_equal(other["cum_regret"][1.0], r1["cum_regret"][1.0])


def test_d_sweep_and_alpha_list(tmp_path: Path) -> None:
    main(["regret", "--algo", "lsvi-ucb", "--instance", "hard", "--sweep", "H", "--values", "3,4", "--d", "3",
          "--K", "32", "--seeds", "2", "--workers", "1", "--no-progress", "--bootstrap", "20",
          "--bonus-scale", "0.05", "--out", str(tmp_path / "h"), "--figures", str(tmp_path / "f")])
    res = json.loads((tmp_path / "h" / "results.json").read_text())
    chk = [c for c in res["growth_checks"] if c["check"] == "H_exponent"]
    assert len(chk) == 1 and chk[0]["theorem"] == 2.0 and chk[0]["H"] == [3.0, 4.0]
    assert (tmp_path / "f" / "regret_vs_H.png").exists()
    main(["regret", "--algo", "lsvi-ucb", "--instance", "random", "--param", "S=6", "--param", "A=2",
          "--d", "3", "--H", "3", "--K", "32", "--seeds", "2", "--alpha", "1,0.5", "--workers", "1",
          "--no-progress", "--bootstrap", "20", "--out", str(tmp_path / "al"), "--figures", str(tmp_path / "f")])
    res = json.loads((tmp_path / "al" / "results.json").read_text())
    assert set(res["results"]["lsvi-ucb"]) == {"1", "0.5"}
    assert len(res["results"]["lsvi-ucb"]["0.5"]["0"]["cum_regret"]) == 32
    assert (tmp_path / "f" / "regret_alpha.png").exists()
