"""The reduced-protocol driver's variants (benchmarks/mst_cpu.py) configure what their names say."""

from __future__ import annotations

import importlib
import math
from pathlib import Path

import pytest

from deeprl.mst.train import GROUP, build_run


@pytest.fixture(scope="module")
def bench():
    return importlib.import_module("benchmarks.mst_cpu")  # the repository root is on sys.path under pytest


def test_mst_global_drops_little_at_restoration_where_mst_restarts(bench, tmp_path: Path) -> None:
    base = dict(config="tiny", data="fixture", data_dir=str(tmp_path / "data"), seed=0, tensorboard=False,
                progress=False, eval_interval=100, eval_iters=1)
    steps, zeta = 200, 0.3
    runs = {v: build_run(bench.variant_config(v, dict(base, zeta=zeta), steps, 0.3, 0.8), out=tmp_path / v)
            for v in ("mst", "mst-global")}
    t_r = runs["mst"].t_r
    assert 0 < runs["mst"].t_w < t_r < steps
    f_phase, f_global = (runs[v].trainer.drop_fraction for v in ("mst", "mst-global"))
    # per-phase: the cosine restarts at ζ at each boundary (eq. (4)); global: one cosine over [0, T)
    assert f_phase(t_r) == pytest.approx(zeta)
    assert f_global(t_r) == pytest.approx(zeta / 2 * (1 + math.cos(math.pi * t_r / steps)))
    assert f_global(t_r) < 0.5 * f_phase(t_r)
    assert f_phase(0) == f_global(0) == pytest.approx(zeta)
    # the two differ only in the drop fraction: same target sparsity schedule, hence the same FLOPs
    assert all(runs["mst"].target(t) == runs["mst-global"].target(t) for t in range(0, steps, 7))


def test_mst_cubic_and_densehead_change_only_what_their_names_say(bench, tmp_path: Path) -> None:
    base = dict(config="tiny", data="fixture", data_dir=str(tmp_path / "data"), seed=0, tensorboard=False,
                progress=False, eval_interval=100, eval_iters=1)
    steps = 200
    runs = {v: build_run(bench.variant_config(v, dict(base), steps, 0.3, 0.8), out=tmp_path / v)
            for v in ("mst", "mst-cubic", "mst-densehead")}
    mst, cubic, head = (runs[v] for v in ("mst", "mst-cubic", "mst-densehead"))
    t_w = mst.t_w
    s0, su = mst.target(0), mst.target(t_w)
    # eq. (5) with g(x) = 1 - (1 - x)^3: mid warm-up the cubic target is 7/8 of the way, the linear one 1/2
    half = t_w // 2
    x = half / t_w
    assert cubic.target(half) == pytest.approx(s0 + (su - s0) * (1 - (1 - x) ** 3), abs=1e-6)
    assert mst.target(half) == pytest.approx(s0 + (su - s0) * x, abs=1e-6)
    assert all(cubic.target(t) == mst.target(t) for t in range(t_w, steps, 7))  # same after warm-up
    masked, masked_head, masked_cubic = (set(r.trainer.masks[GROUP]) for r in (mst, head, cubic))
    assert "lm_head.weight" in masked and masked - masked_head == {"lm_head.weight"}
    assert masked_cubic == masked
