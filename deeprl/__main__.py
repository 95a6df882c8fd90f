"""``python -m deeprl {rlx2,mast,mst,rsd4,inspect} ...``: one entry point for every deep-RL method.

A method subcommand imports ``deeprl.<method>.cli`` lazily (so ``--help`` works before a method exists and
no method pays for another's imports) and calls its ``main(argv: list[str]) -> int`` with the remaining
arguments. ``inspect`` is :mod:`deeprl.inspect`. An unknown subcommand is one line on stderr and exit 2.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Callable, Sequence

PROG = "python -m deeprl"

SUBCOMMANDS: dict[str, str] = {
    "rlx2": "RLx2: sparse TD3/SAC from scratch (RigL topology, multi-step targets, dynamic buffer)",
    "mast": "MAST: sparse value-based multi-agent RL (QMIX family, Soft Mellowmax, hybrid TD(lambda))",
    "mst": "MST: sparse GPT pretraining (sparsity variation, hybrid sparse attention)",
    "rsd4": "RSD4: recurrent softmax double-actor DPG for delay-constrained scheduling",
    "inspect": "per-layer and total density and FLOPs of a checkpoint (table or --json)",
}


def _available(cmd: str) -> bool:
    if cmd == "inspect":
        return True
    try:
        return importlib.util.find_spec(f"deeprl.{cmd}") is not None
    except (ImportError, ValueError):
        return False


def _help() -> str:
    lines = [f"usage: {PROG} {{{','.join(SUBCOMMANDS)}}} [args...]", "", "subcommands:"]
    for cmd, text in SUBCOMMANDS.items():
        mark = "" if _available(cmd) else "  [not available in this checkout]"
        lines.append(f"  {cmd:<8} {text}{mark}")
    lines += ["", f"Run '{PROG} <subcommand> --help' for the subcommand's options."]
    return "\n".join(lines)


def _error(message: str) -> int:
    sys.stderr.write(f"{PROG}: error: {' '.join(message.split())}\n")
    return 2


def _load(cmd: str) -> Callable[[list[str]], int] | None:
    if cmd == "inspect":
        from deeprl.inspect import main as inspect_main

        return inspect_main
    modname = f"deeprl.{cmd}.cli"
    try:
        mod = importlib.import_module(modname)
    except ModuleNotFoundError as exc:
        if exc.name in (modname, f"deeprl.{cmd}"):
            return None
        raise
    return getattr(mod, "main", None)


def main(argv: Sequence[str] | None = None) -> int:
    """Dispatch to a subcommand; returns its exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args:
        sys.stderr.write(_help() + "\n")
        return 2
    cmd, rest = args[0], args[1:]
    if cmd in ("-h", "--help", "help"):
        print(_help())
        return 0
    if cmd not in SUBCOMMANDS:
        return _error(f"unknown subcommand {cmd!r}; choose from {', '.join(SUBCOMMANDS)}")
    fn = _load(cmd)
    if fn is None:
        return _error(f"subcommand {cmd!r} is not available: deeprl.{cmd}.cli with main(argv) is not installed")
    rc = fn(rest)
    return 0 if rc is None else int(rc)


if __name__ == "__main__":
    raise SystemExit(main())
