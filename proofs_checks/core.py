"""What every lemma check returns, and how a failing case is kept for reproduction.

A check measures both sides of an inequality (or identity) on concrete inputs. It returns one
:class:`CheckResult` per (lemma, input family): the left side, the right side, the *slack ratio*
``lhs / rhs`` for an inequality ``lhs <= rhs`` (how much of the bound the inputs use; near 1 means the
inequality is tight there), and whether it holds. For an identity the "right side" is the other side and
``holds`` compares their relative difference with a stated tolerance.

When a check fails it must say which inputs broke it: the inputs go into ``CheckResult.case`` (a dict of
arrays and scalars) and :func:`save_case` writes them as an ``.npz`` that :func:`load_case` reads back.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np


@dataclass
class CheckResult:
    """One row of the lemma table.

    kind: ``"le"`` (lhs <= rhs, slack = lhs/rhs), ``"eq"`` (|lhs - rhs| <= tol * max(1, |rhs|)),
    or ``"ge"`` (lhs >= rhs, slack = rhs/lhs).
    """

    lemma: str
    inputs: str
    lhs: float
    rhs: float
    kind: str = "le"
    tol: float = 0.0
    source: str = ""
    case: Mapping[str, Any] | None = field(default=None, repr=False)
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def holds(self) -> bool:
        if not (math.isfinite(self.lhs) and math.isfinite(self.rhs)):
            return False
        if self.kind == "le":
            return self.lhs <= self.rhs * (1.0 + self.tol) + self.tol
        if self.kind == "ge":
            return self.lhs >= self.rhs * (1.0 - self.tol) - self.tol
        if self.kind == "eq":
            return abs(self.lhs - self.rhs) <= self.tol * max(1.0, abs(self.rhs))
        raise ValueError(f"kind must be 'le', 'ge' or 'eq', got {self.kind!r}")

    @property
    def slack(self) -> float:
        """lhs/rhs for ``le``; rhs/lhs for ``ge``; relative error for ``eq``."""
        if self.kind == "eq":
            return abs(self.lhs - self.rhs) / max(1.0, abs(self.rhs))
        num, den = (self.lhs, self.rhs) if self.kind == "le" else (self.rhs, self.lhs)
        if den == 0:
            return 0.0 if num == 0 else math.inf
        return num / den

    def as_row(self) -> dict[str, Any]:
        return {
            "lemma": self.lemma,
            "inputs": self.inputs,
            "lhs": self.lhs,
            "rhs": self.rhs,
            "kind": self.kind,
            "slack": self.slack,
            "holds": self.holds,
            "source": self.source,
            **({"extra": self.extra} if self.extra else {}),
        }


def save_case(result: CheckResult, folder: str | Path) -> Path | None:
    """Write the inputs of a (failed) check as ``folder/<lemma>__<inputs>.npz``; returns the path."""
    if result.case is None:
        return None
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"{result.lemma}__{result.inputs}"
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in stem)
    path = folder / f"{safe}.npz"
    arrays = {k: np.asarray(v) for k, v in result.case.items()}
    np.savez(path, **arrays, _lemma=np.asarray(result.lemma), _inputs=np.asarray(result.inputs))
    return path


def load_case(path: str | Path) -> dict[str, np.ndarray]:
    """Read back a case written by :func:`save_case` (arrays keyed as saved)."""
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def format_table(results: list[CheckResult]) -> str:
    """A plain-text table: lemma, inputs, left side, right side, slack ratio, holds."""
    head = ("lemma", "inputs", "left side", "right side", "slack", "holds")
    rows = [
        (r.lemma, r.inputs, f"{r.lhs:.6g}", f"{r.rhs:.6g}", f"{r.slack:.3g}", "yes" if r.holds else "NO")
        for r in results
    ]
    widths = [max(len(h), *(len(row[i]) for row in rows)) if rows else len(h) for i, h in enumerate(head)]
    line = "  ".join(h.ljust(w) for h, w in zip(head, widths))
    out = [line, "  ".join("-" * w for w in widths)]
    out += ["  ".join(c.ljust(w) for c, w in zip(row, widths)) for row in rows]
    return "\n".join(out)
