"""The regret harness: one run (:mod:`.run`), sweeps over local processes or Ray (:mod:`.sweep`),
growth checks against the stated bounds (:mod:`.growth`), figures (:mod:`.plots`) and the CLI
(:mod:`.cli`, ``python -m provable regret``)."""

from provable.harness.run import RunConfig, run_one
from provable.harness.sweep import run_jobs

__all__ = ["RunConfig", "run_one", "run_jobs"]
