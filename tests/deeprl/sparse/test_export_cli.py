"""Sparse export equals the masked dense module (§1.9); ``python -m deeprl`` dispatcher and ``inspect``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from deeprl.__main__ import main as deeprl_main
from deeprl.common import save_checkpoint
from deeprl.inspect import main as inspect_main
from deeprl.sparse import (
    CSRLinear,
    SparseGroup,
    SparseTrainer,
    UpdateSchedule,
    benchmark_inference,
    export_sparse_inference,
)
from deeprl.sparse.export import SparseRNNCell
from deeprl.sparse.fused import NumbaCSRLinear

ROOT = Path(__file__).resolve().parents[3]


def trained_actor(sparsity: float = 0.95):
    torch.manual_seed(0)
    actor = nn.Sequential(nn.Linear(17, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 6), nn.Tanh())
    opt = torch.optim.Adam(actor.parameters(), lr=1e-3)
    tr = SparseTrainer(SparseGroup("actor", actor, sparsity), opt, update_schedule=UpdateSchedule(3, 100))
    for _ in range(7):
        opt.zero_grad()
        actor(torch.randn(32, 17)).pow(2).mean().backward()
        tr.step(samples=32)
    return actor, tr


@pytest.mark.parametrize(("fmt", "cls"), [("csr", CSRLinear), ("numba", NumbaCSRLinear)])
def test_exported_sparse_module_equals_masked_dense(fmt, cls):
    actor, tr = trained_actor()
    ex = export_sparse_inference(actor, min_sparsity=0.5, force=fmt)
    assert isinstance(ex[2], cls) and isinstance(ex[0], cls)  # forced conversion of sparse layers
    assert isinstance(ex[4], nn.Linear)  # ER keeps the thin output layer dense
    assert ex[2].nnz == int((actor[2].weight != 0).sum()) <= int(tr.masks["actor"]["2.weight"].sum())
    for b in (1, 5, 256):
        x = torch.randn(b, 17)
        with torch.no_grad():
            y_ref = actor(x)
        y = ex(x)
        assert torch.allclose(y, y_ref, atol=1e-5, rtol=0)
    x3 = torch.randn(2, 3, 17)  # leading dims are preserved
    assert torch.allclose(ex(x3), actor(x3).detach(), atol=1e-5)
    lin = export_sparse_inference(actor[2], min_sparsity=0.5, force=fmt)  # a bare Linear becomes the export
    assert isinstance(lin, cls) and torch.allclose(lin(x3.new_ones(4, 256)), actor[2](x3.new_ones(4, 256)), atol=1e-5)


def test_auto_selection_is_measured_and_always_correct():
    actor, tr = trained_actor()
    ex = tr.export_sparse_inference("actor", batch_size=256, reps=20, warmup=2)
    rep = {r["layer"]: r for r in ex.export_report}
    chain = rep["<root>"]  # the whole Sequential is one fused-MLP candidate
    assert chain["kind"] == "mlp" and chain["shape"] == [[256, 17], [256, 256], [6, 256]]
    times = chain["times_us"]
    assert {"dense", "fused"} <= set(times) <= {"dense", "fused", "fused_serial"} and min(times.values()) > 0
    best = min(times, key=times.get)  # the measured fastest is kept
    assert chain["format"] == ("dense" if best == "dense" else "fused")
    x = torch.randn(64, 17)
    assert torch.allclose(ex(x), actor(x).detach(), atol=1e-5)
    rows = benchmark_inference(actor, ex, batch_sizes=(1, 8), threads=(1,), reps=10, warmup=2)
    assert [(r["batch"], r["threads"]) for r in rows] == [(1, 1), (8, 1)]
    assert all(r["dense_us"] > 0 and r["sparse_us"] > 0 for r in rows)
    with pytest.raises(ValueError, match="min_sparsity"):
        export_sparse_inference(actor, min_sparsity=2.0)
    with pytest.raises(ValueError, match="formats"):
        export_sparse_inference(actor, formats=("coo",))


def test_per_layer_selection_without_fusion_is_measured():
    actor, _ = trained_actor()
    ex = export_sparse_inference(actor, batch_size=256, reps=20, warmup=2, formats=("csr", "numba"))
    rep = {r["layer"]: r for r in ex.export_report}
    times = rep["2"]["times_us"]
    assert set(times) == {"dense", "csr", "numba"} and min(times.values()) > 0
    assert rep["2"]["format"] == min(times, key=times.get)
    assert rep["4"]["format"] == "dense" and rep["4"]["times_us"] == {}  # below min_sparsity: not timed
    x = torch.randn(64, 17)
    assert torch.allclose(ex(x), actor(x).detach(), atol=1e-5)


@pytest.fixture
def checkpoint(tmp_path):
    actor, tr_a = trained_actor(0.9)
    critic = nn.Sequential(nn.Linear(23, 64), nn.ReLU(), nn.Linear(64, 1))
    opt = torch.optim.Adam(critic.parameters())
    tr_c = SparseTrainer(SparseGroup("critic", critic, 0.8, exclude=("2.*",)), opt)
    state = {"actor": actor.state_dict(), "sparse": {"actor": tr_a.state_dict(), "critic": tr_c.state_dict()}}
    return save_checkpoint(tmp_path / "run", 7, state), tr_a, tr_c


def test_inspect_table_and_json(checkpoint, capsys):
    path, tr_a, tr_c = checkpoint
    assert inspect_main([str(path)]) == 0
    out = capsys.readouterr().out
    assert "actor" in out and "critic" in out and "256x256" in out and "TOTAL" in out
    assert inspect_main([str(path.parent.parent), "--json"]) == 0  # a run folder: newest checkpoint
    js = json.loads(capsys.readouterr().out)
    assert js["networks"] == ["actor", "critic"]
    assert js["actor"]["density"] == pytest.approx(tr_a.density("actor"))
    assert js["critic"]["density"] == pytest.approx(tr_c.density("critic"))
    assert js["actor"]["flops_forward_sparse"] == tr_a.flops.forward("actor")
    assert js["critic"]["flops_forward_dense"] == tr_c.flops.forward("critic", sparse=False)
    assert js["critic"]["density_all_layers"] > js["critic"]["density"]  # the excluded dense head counts there
    assert js["actor"]["step"] == 7 and js["actor"]["n_topology_updates"] == 2
    assert js["actor"]["train_flops"]["ratio"] == pytest.approx(tr_a.flops.ratio("train/actor"))


def test_inspect_bad_inputs_one_line_exit_2(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        inspect_main([str(tmp_path / "missing.pt")])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "does not exist" in err
    torch.save({"model": {}}, tmp_path / "plain.pt")
    with pytest.raises(SystemExit) as e:
        inspect_main([str(tmp_path / "plain.pt")])
    assert e.value.code == 2 and "'sparse'" in capsys.readouterr().err
    (tmp_path / "junk.pt").write_text("not a checkpoint")
    with pytest.raises(SystemExit) as e:
        inspect_main([str(tmp_path / "junk.pt")])
    assert e.value.code == 2 and capsys.readouterr().err.count("\n") == 1


def test_dispatcher_help_and_unknown(capsys):
    assert deeprl_main(["--help"]) == 0
    out = capsys.readouterr().out
    for cmd in ("rlx2", "mast", "mst", "rsd4", "inspect"):
        assert cmd in out
    assert deeprl_main(["nope"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown subcommand" in err


def test_dispatch_inspect_in_process_and_bad_path_subprocess(checkpoint, capsys):
    assert deeprl_main(["inspect", str(checkpoint[0]), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["actor"]["density"] == pytest.approx(0.1, abs=1e-3)
    r = subprocess.run([sys.executable, "-m", "deeprl", "inspect", "/no/such/file"], cwd=ROOT,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr


@pytest.mark.parametrize("fmt", ["csr", "numba"])
@pytest.mark.parametrize("cell_cls", [nn.GRUCell, nn.LSTMCell, nn.RNNCell])
def test_exported_recurrent_cell_equals_masked_dense(fmt, cell_cls):
    torch.manual_seed(1)
    cell = cell_cls(12, 16)
    SparseTrainer(SparseGroup("agent", cell, 0.9, distribution="uniform"),
                  torch.optim.SGD(cell.parameters(), lr=0.0)).remove_hooks()
    ex = export_sparse_inference(cell, min_sparsity=0.5, force=fmt)
    assert isinstance(ex, SparseRNNCell)
    for b in (1, 7):
        x, h = torch.randn(b, 12), torch.randn(b, 16)
        hx = (h, h * 0.5) if cell_cls is nn.LSTMCell else h
        with torch.no_grad():
            ref = cell(x, hx)
        got = ex(x, hx)
        for r, g in zip(ref if isinstance(ref, tuple) else (ref,), got if isinstance(got, tuple) else (got,)):
            assert torch.allclose(g, r, atol=1e-5)
    unb = ex(torch.randn(12))  # unbatched input, no state
    assert (unb[0] if isinstance(unb, tuple) else unb).shape == (16,)
