"""Run logging: a CSV file (``metrics.csv``, long format ``step,tag,value``) and TensorBoard events.

Long format keeps one schema for every method and lets a run add new tags at any time; load it with
``pandas.read_csv(...).pivot_table(index="step", columns="tag", values="value")``.
On resume the CSV is appended to, and rows at steps past the checkpoint are dropped first, so a
resumed run's log equals an uninterrupted one's.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping
from pathlib import Path


class RunLogger:
    """Log scalars to ``<run_dir>/metrics.csv`` and (optionally) TensorBoard under ``<run_dir>/tb``."""

    def __init__(self, run_dir: str | Path, tensorboard: bool = True, resume_step: int | None = None) -> None:
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.csv_path = self.run_dir / "metrics.csv"
        if resume_step is not None and self.csv_path.exists():
            self._truncate_after(resume_step)
        new = not self.csv_path.exists()
        self._fh = open(self.csv_path, "a", newline="")  # noqa: SIM115 - closed in close()
        self._csv = csv.writer(self._fh)
        if new:
            self._csv.writerow(["step", "tag", "value"])
        self._tb = None
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:  # tensorboard is an optional extra
                SummaryWriter = None  # noqa: N806
            if SummaryWriter is not None:
                self._tb = SummaryWriter(log_dir=str(self.run_dir / "tb"), purge_step=resume_step)

    def _truncate_after(self, step: int) -> None:
        with open(self.csv_path, newline="") as fh:
            rows = list(csv.reader(fh))
        keep = [rows[0]] + [r for r in rows[1:] if r and int(r[0]) <= step]
        with open(self.csv_path, "w", newline="") as fh:
            csv.writer(fh).writerows(keep)

    def log(self, step: int, scalars: Mapping[str, float]) -> None:
        """Record ``{tag: value}`` at ``step`` (non-finite values are written as they are)."""
        for tag, value in scalars.items():
            v = float(value)
            self._csv.writerow([int(step), tag, repr(v) if math.isfinite(v) else str(v)])
            if self._tb is not None:
                self._tb.add_scalar(tag, v, int(step))
        self._fh.flush()

    def close(self) -> None:
        self._fh.close()
        if self._tb is not None:
            self._tb.close()

    def __enter__(self) -> RunLogger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
