"""The one piece of command-line plumbing every entry point of the library uses.

It lives in ``simulators`` because every other package may import ``simulators`` (never the
reverse) and because it needs nothing but the standard library, so the torch-free side can use it.

Conventions it enforces (DEVELOPERS.md, "Bad input"):
- a bad argument prints ONE line ``prog: error: <what is wrong and what is allowed>`` to stderr and
  exits with code 2, never a traceback;
- a run never overwrites an earlier run's results (:func:`new_run_dir`);
- JSON results are written atomically (:func:`write_json`).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn, TypeVar

T = TypeVar("T")


class CliParser(argparse.ArgumentParser):
    """``argparse.ArgumentParser`` whose errors are a single line and exit code 2."""

    def error(self, message: str) -> NoReturn:  # noqa: D102 - argparse API
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        raise SystemExit(2)


def fail(prog: str, message: str) -> NoReturn:
    """Print ``prog: error: message`` on one line and exit with code 2."""
    sys.stderr.write(f"{prog}: error: {' '.join(str(message).split())}\n")
    raise SystemExit(2)


def cli_main(prog: str) -> Callable[[Callable[..., int | None]], Callable[..., int]]:
    """Decorate ``main(argv)``: ValueError, FileNotFoundError and KeyError become one line + exit 2."""

    def deco(fn: Callable[..., int | None]) -> Callable[..., int]:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> int:
            try:
                rc = fn(*args, **kwargs)
            except (ValueError, FileNotFoundError, KeyError) as exc:
                fail(prog, exc.args[0] if exc.args else repr(exc))
            return 0 if rc is None else int(rc)

        return wrapper

    return deco


def _typed(name: str, conv: Callable[[str], T], ok: Callable[[T], bool], allowed: str) -> Callable[[str], T]:
    def parse(text: str) -> T:
        try:
            value = conv(text)
        except (TypeError, ValueError):
            raise argparse.ArgumentTypeError(f"{text!r} is not {allowed}") from None
        if not ok(value):
            raise argparse.ArgumentTypeError(f"{text!r} is not {allowed}")
        return value

    parse.__name__ = name
    return parse


positive_int = _typed("positive int", int, lambda v: v > 0, "a positive integer")
nonneg_int = _typed("non-negative int", int, lambda v: v >= 0, "a non-negative integer")
positive_float = _typed("positive float", float, lambda v: v > 0 and v == v and v != float("inf"),
                        "a positive finite number")
nonneg_float = _typed("non-negative float", float, lambda v: v >= 0 and v == v and v != float("inf"),
                      "a non-negative finite number")
unit_interval = _typed("alpha", float, lambda v: 0.0 < v <= 1.0, "a number in (0, 1]")
probability = _typed("probability", float, lambda v: 0.0 <= v <= 1.0, "a number in [0, 1]")


def csv_of(conv: Callable[[str], T], allowed: str = "a comma-separated list") -> Callable[[str], list[T]]:
    """argparse type for ``a,b,c``: each item converted by ``conv`` (itself an argparse type)."""

    def parse(text: str) -> list[T]:
        items = [t.strip() for t in text.split(",") if t.strip()]
        if not items:
            raise argparse.ArgumentTypeError(f"{text!r} is not {allowed}")
        return [conv(t) for t in items]

    parse.__name__ = "comma-separated list"
    return parse


def choice_list(choices: Sequence[str]) -> Callable[[str], list[str]]:
    """argparse type for a comma-separated subset of ``choices``."""

    def conv(item: str) -> str:
        if item not in choices:
            raise argparse.ArgumentTypeError(f"{item!r} is not one of {', '.join(choices)}")
        return item

    return csv_of(conv, f"a comma-separated list of {', '.join(choices)}")


def new_run_dir(base: str | os.PathLike[str], name: str = "run") -> Path:
    """Create and return a fresh directory ``base/name`` (or ``name-2``, ``name-3``...): never reuse one.

    Creation is atomic (``mkdir`` without ``exist_ok``), so two concurrent runs never share a folder.
    """
    root = Path(base)
    root.mkdir(parents=True, exist_ok=True)
    for i in range(1, 100_000):
        cand = root / (name if i == 1 else f"{name}-{i}")
        try:
            cand.mkdir()
        except FileExistsError:
            continue
        return cand
    raise RuntimeError(f"could not find a free run directory under {root}")


def fresh_output_dir(path: str | os.PathLike[str]) -> Path:
    """Create ``path`` for a new run; if it exists and is not empty, raise ValueError naming ``--out``."""
    p = Path(path)
    if p.exists() and any(p.iterdir()):
        raise ValueError(f"--out {p} already holds results; choose a new folder (runs never overwrite)")
    p.mkdir(parents=True, exist_ok=True)
    return p


def write_json(path: str | os.PathLike[str], obj: Any) -> Path:
    """Write ``obj`` as indented JSON atomically (temp file + ``os.replace``)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=f".{p.name}.", suffix=".tmp")
    with os.fdopen(fd, "w") as fh:
        json.dump(obj, fh, indent=2, sort_keys=False, default=_json_default)
        fh.write("\n")
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; results are meant to be shared
    os.replace(tmp, p)
    return p


def _json_default(o: Any) -> Any:
    try:
        import numpy as np
    except ImportError:  # pragma: no cover
        np = None
    if np is not None:
        if isinstance(o, np.ndarray):
            return o.tolist()
        if isinstance(o, np.generic):
            return o.item()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def command_line(argv: Sequence[str] | None, module: str) -> str:
    """The exact command that reproduces this run, for results files: ``python -m module args...``."""
    import shlex

    args = list(sys.argv[1:] if argv is None else argv)
    return " ".join(["python", "-m", module, *map(shlex.quote, args)])
