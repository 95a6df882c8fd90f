"""``--backend ray``: the sweep runs as Ray tasks (here on a local 2-CPU Ray started by the test) and gives
the same results as local processes."""

from __future__ import annotations

import numpy as np
import pytest

from provable.harness.run import RunConfig
from provable.harness.sweep import run_jobs

ray = pytest.importorskip("ray")


@pytest.mark.ray
@pytest.mark.slow
def test_ray_backend_matches_local() -> None:
    jobs = [RunConfig(algo=a, seed=s, instance="hard", K=48, params={"d": 3, "H": 3, "K": 48},
                      hyper={"bonus_scale": 0.05}) for a in ("lsvi-ucb", "lsvi-ucb-plus") for s in (0, 1)]
    local = run_jobs(jobs, backend="local", workers=1, progress=False)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, ignore_reinit_error=True)
    try:
        remote = run_jobs(jobs, backend="ray", progress=False)
    finally:
        ray.shutdown()
    assert len(remote) == len(jobs)
    for a, b, job in zip(local, remote, jobs):
        assert b["config"]["algo"] == job.algo and b["config"]["seed"] == job.seed
        np.testing.assert_array_equal(a["cum_regret"][1.0], b["cum_regret"][1.0])


def test_ray_backend_needs_an_address(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    if ray.is_initialized():  # pragma: no cover
        ray.shutdown()
    job = RunConfig(algo="lsvi-ucb", seed=0, instance="hard", K=48, params={"d": 3, "H": 3, "K": 48})
    with pytest.raises(ValueError, match="ray-address"):
        run_jobs([job], backend="ray", progress=False)
    with pytest.raises(ValueError, match="backend"):
        run_jobs([job], backend="dask", progress=False)
