"""``python -m simulators describe``: JSON output, --alpha, --save/--load, one-line errors with exit code 2."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from simulators import LinearMDP, dp, make_instance
from simulators.__main__ import main


def _run(capsys, *argv):
    rc = main(list(argv))
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_describe_json_has_v_star_and_v_star_icvar(capsys):
    rc, out, _ = _run(
        capsys,
        "describe",
        "--instance",
        "safe-risky",
        "--p_c",
        "0.2",
        "--H",
        "4",
        "--seed",
        "3",
        "--alpha",
        "0.25",
        "--json",
    )
    assert rc == 0
    desc = json.loads(out)
    m = make_instance("safe-risky", seed=3, p_c=0.2, H=4)
    assert desc["V_star"] == pytest.approx(dp.initial_value(m, dp.optimal(m).V), abs=1e-12)
    assert desc["V_star_icvar"] == pytest.approx(dp.initial_value(m, dp.optimal(m, 0.25).V), abs=1e-12)
    assert desc["params"] == m.params and desc["H"] == 4
    assert len(desc["episode"]["states"]) == 5


def test_describe_text_save_and_load(capsys, tmp_path):
    f = tmp_path / "inst.npz"
    rc, out, _ = _run(
        capsys, "describe", "--instance", "hard", "--d", "3", "--H", "4", "--K", "600", "--seed", "2", "--save", str(f)
    )
    assert rc == 0 and "V*" in out and f.exists()
    assert LinearMDP.load(f).params == make_instance("hard", seed=2, d=3, H=4, K=600).params
    rc, out2, _ = _run(capsys, "describe", "--load", str(f), "--json")
    assert rc == 0 and json.loads(out2)["name"] == "hard"
    with pytest.raises(SystemExit) as exc:  # never overwrite
        main(["describe", "--instance", "hard", "--d", "3", "--H", "4", "--K", "600", "--save", str(f)])
    assert exc.value.code == 2
    assert "already exists" in capsys.readouterr().err


def test_misspecified_takes_its_base_parameters(capsys):
    rc, out, _ = _run(
        capsys,
        "describe",
        "--instance",
        "misspecified",
        "--base",
        "tabular",
        "--a_P",
        "0.5",
        "--S",
        "4",
        "--zeta",
        "0.3",
        "--json",
    )
    assert rc == 0
    desc = json.loads(out)
    assert desc["params"]["base"] == "tabular" and desc["params"]["a_P"] == 0.5 and desc["linear"] is False


@pytest.mark.parametrize(
    ("argv", "word"),
    [
        (["describe", "--instance", "random", "--bogus", "1"], "--bogus is not a parameter"),
        (["describe", "--instance", "random", "--S", "x"], "--S must be an integer"),
        (["describe", "--instance", "random", "--S", "0"], "S must be an integer >= 1"),
        (["describe", "--instance", "hard", "--K", "3"], "need K >="),
        (["describe", "--instance", "random", "--alpha", "0"], "--alpha"),
        (["describe", "--instance", "random", "--seed", "-2"], "--seed"),
        (["describe", "--instance", "nope"], "--instance"),
        (["describe", "--load", "/no/such/file.npz"], "no such instance file"),
        (["describe", "--instance", "random", "--S"], "--S needs a value"),
        (["describe"], "required"),
    ],
)
def test_cli_errors_are_one_line_and_exit_2(capsys, argv, word):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert word in err and err.count("\n") == 1 and "Traceback" not in err


def test_python_dash_m_entry_point_and_list():
    proc = subprocess.run([sys.executable, "-m", "simulators", "list"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "safe-risky" in proc.stdout and "--K 1000" in proc.stdout
    proc = subprocess.run(
        [sys.executable, "-m", "simulators", "describe", "--instance", "random", "--d", "x"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
