"""Keep finished benchmark runs in the repository so that a long protocol accumulates over sittings.

A protocol such as RLx2's Tier A (≈12 CPU-hours) or MAST's E-M1 at 5e5 steps does not fit one sitting on
two cores, and run folders (``runs/``, checkpoints, replay buffers) are too big to keep. What a report
needs of a run is its ``summary.json`` (scores, evaluation curve, FLOPs, the full config); the drivers copy
it, with the command that made it and the last commit of the code it imports, to
``benchmarks/results/<benchmark>/<budget tag>/...json``. A driver never re-runs an archived run and reads
the archive when it reports, so a protocol is run a few seeds at a time and reported when all are there.
Re-running the recorded command at the recorded commit reproduces an entry (same seed, same numbers).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from simulators.cli_util import write_json

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
CODE_PATHS = ("deeprl", "simulators", "pyproject.toml")  # what a run's numbers depend on


def code_version(root: Path = ROOT, paths: Sequence[str] = CODE_PATHS) -> str:
    """The last commit that changed ``paths`` (``-dirty`` with uncommitted changes there; ``unknown``
    outside a git checkout)."""
    git = ["git", "-C", str(root)]
    try:
        last = subprocess.run([*git, "log", "-1", "--format=%H", "--", *paths], capture_output=True, text=True)
        dirty = subprocess.run([*git, "status", "--porcelain", "--", *paths], capture_output=True, text=True)
    except OSError:
        return "unknown"
    if last.returncode != 0 or not last.stdout.strip():
        return "unknown"
    return last.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")


def read_archived(file: Path | None) -> dict[str, Any] | None:
    """The archived summary at ``file``, or None if there is none (or no archive is used)."""
    if file is None or not Path(file).exists():
        return None
    return json.loads(Path(file).read_text())


def archive_summary(file: Path, summary: dict[str, Any], command: Sequence[str], code: str) -> dict[str, Any]:
    """Write ``summary`` plus ``code_version`` and ``command`` (one shell line) to ``file``; return it."""
    entry = {**summary, "code_version": code, "command": " ".join(command)}
    write_json(file, entry)
    return entry
