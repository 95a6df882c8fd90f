"""``python -m provable <command>``: the provable side's entry points.

Commands:
  regret   the regret-scaling harness (spec §6): ``python -m provable regret --help``
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from simulators.cli_util import fail

COMMANDS = ("regret",)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(__doc__.strip())
        return 0 if args else 2
    cmd, rest = args[0], args[1:]
    if cmd == "regret":
        from provable.harness.cli import regret_main

        return regret_main(rest)
    fail("python -m provable", f"unknown command {cmd!r}; choose one of: {', '.join(COMMANDS)}")


if __name__ == "__main__":
    raise SystemExit(main())
