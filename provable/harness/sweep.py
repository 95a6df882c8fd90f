"""Run many independent (algorithm, seed, setting) jobs: local processes or Ray tasks (spec §6).

``backend="local"``: a ``concurrent.futures.ProcessPoolExecutor`` with ``workers`` processes (1 = in this
process), with a tqdm progress bar. ``backend="ray"``: one Ray task per job on an EXISTING Ray cluster
(address from ``ray_address`` or the ``RAY_ADDRESS`` environment variable; if Ray is already initialised
in this process, that session is used, which is how the test suite runs a local 2-CPU Ray). Results
come back in the order of the jobs, whatever the completion order, so a sweep is reproducible.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any

from tqdm.auto import tqdm

from provable.harness.run import RunConfig, run_one

__all__ = ["run_jobs", "BACKENDS"]

BACKENDS = ("local", "ray")


def _cost(cfg: RunConfig) -> float:
    return float(cfg.K) * len(cfg.alphas)


def run_jobs(jobs: Sequence[RunConfig], *, backend: str = "local", workers: int = 2,
             ray_address: str | None = None, progress: bool = True,
             fn: Callable[[RunConfig], dict[str, Any]] = run_one) -> list[dict[str, Any]]:
    """Run every job; return their results in job order."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    if isinstance(workers, bool) or int(workers) != workers or workers < 1:
        raise ValueError(f"workers must be a positive integer, got {workers!r}")
    if backend == "ray":
        _connect_ray(ray_address)  # before the progress bar: a bad address is one clean error line
    order = sorted(range(len(jobs)), key=lambda i: -_cost(jobs[i]))  # longest first: better packing
    results: list[dict[str, Any] | None] = [None] * len(jobs)
    bar = tqdm(total=len(jobs), desc="regret runs", unit="run", disable=not progress)
    try:
        if backend == "ray":
            _run_ray(jobs, order, results, bar, ray_address, fn)
        elif workers == 1 or len(jobs) == 1:
            for i in order:
                results[i] = fn(jobs[i])
                bar.update(1)
        else:
            with ProcessPoolExecutor(max_workers=min(int(workers), len(jobs))) as pool:
                futs = {pool.submit(fn, jobs[i]): i for i in order}
                for fut in as_completed(futs):
                    results[futs[fut]] = fut.result()
                    bar.update(1)
    finally:
        bar.close()
    return [r for r in results if r is not None]


def _check_reachable(address: str, timeout: float = 3.0) -> None:
    """For a plain ``host:port`` address, fail fast (ValueError) if nothing listens there."""
    import socket

    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or "://" in address:
        return  # "auto", "ray://..." and the like: leave it to ray.init
    try:
        socket.create_connection((host or "127.0.0.1", int(port)), timeout=timeout).close()
    except OSError as exc:
        raise ValueError(f"--ray-address {address}: no Ray cluster reachable there ({exc.strerror or exc})") from exc


def _connect_ray(ray_address: str | None) -> None:
    """Join the existing Ray cluster (or the session already initialised in this process)."""
    try:
        import ray
    except ImportError as exc:  # pragma: no cover - ray is in the [dist] extra
        raise ValueError("--backend ray needs the 'ray' package: pip install 'provsparse-rl[dist]'") from exc
    if not ray.is_initialized():
        address = ray_address or os.environ.get("RAY_ADDRESS")
        if not address:
            raise ValueError("--backend ray needs an existing Ray cluster: pass --ray-address or set RAY_ADDRESS")
        _check_reachable(address)
        try:
            ray.init(address=address, ignore_reinit_error=True, log_to_driver=False)
        except Exception as exc:  # noqa: BLE001 - any connection failure becomes one CLI line
            raise ValueError(f"--ray-address {address}: cannot connect to a Ray cluster "
                             f"({type(exc).__name__}: {' '.join(str(exc).split())[:200]})") from exc


def _run_ray(jobs: Sequence[RunConfig], order: list[int], results: list[dict[str, Any] | None],
             bar: Any, ray_address: str | None, fn: Callable[[RunConfig], dict[str, Any]]) -> None:
    import ray

    remote = ray.remote(num_cpus=1)(fn)
    refs = {remote.remote(jobs[i]): i for i in order}
    pending = list(refs)
    while pending:
        done, pending = ray.wait(pending, num_returns=1)
        for ref in done:
            results[refs[ref]] = ray.get(ref)
            bar.update(1)
