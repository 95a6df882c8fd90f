"""``python -m simulators describe``: describe a linear-MDP instance, its exact V* and a sampled episode.

    python -m simulators describe --instance hard --d 4 --H 5 --K 2000 --seed 0
    python -m simulators describe --instance safe-risky --p_c 0.1 --seed 0 --alpha 0.2 --json
    python -m simulators describe --instance random --seed 1 --save runs/random-s1.npz
    python -m simulators describe --load runs/random-s1.npz --json
    python -m simulators list

Instance parameters are given as ``--NAME VALUE`` (``python -m simulators list`` shows them with their
defaults). ``--json`` prints one JSON object with at least ``V_star`` (ρ₀ᵀV*_1, risk-neutral) and, with
``--alpha A``, ``V_star_icvar`` (the optimal iterated-CVaR value, spec eq. (20)). ``--save`` never
overwrites an existing file. Errors: one line on stderr, exit code 2.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np

from . import dp, rollout
from .cli_util import CliParser, cli_main, nonneg_int, unit_interval
from .instances import INSTANCES, instance_params, make_instance
from .linear_mdp import LinearMDP

PROG = "python -m simulators"


def _parse_params(name: str, extra: Sequence[str]) -> dict[str, Any]:
    """Parse ``--key value`` pairs against the instance's parameters, typed by their defaults."""
    allowed = instance_params(name)
    if name == "misspecified":  # its parameters include those of the chosen base instance
        for j, tok in enumerate(extra):
            base = tok.partition("=")[2] if tok.startswith("--base=") else None
            if tok == "--base" and j + 1 < len(extra):
                base = extra[j + 1]
            if base is not None and base in INSTANCES and base != "misspecified":
                allowed = {**instance_params(base), **{k: v for k, v in allowed.items() if k in ("zeta", "base")}}
    out: dict[str, Any] = {}
    i = 0
    while i < len(extra):
        tok = extra[i]
        if not tok.startswith("--"):
            raise ValueError(f"unexpected argument {tok!r}; instance parameters are given as --NAME VALUE")
        key, _, val = tok[2:].partition("=")
        key = key.replace("-", "_")
        if not val:
            if i + 1 >= len(extra):
                raise ValueError(f"--{key} needs a value")
            val = extra[i + 1]
            i += 1
        i += 1
        if key not in allowed:
            raise ValueError(
                f"--{key} is not a parameter of instance {name!r}; allowed: " + ", ".join(f"--{k}" for k in allowed)
            )
        default = allowed[key]
        try:
            if isinstance(default, bool):
                if val.lower() not in ("true", "false", "1", "0", "yes", "no"):
                    raise ValueError
                out[key] = val.lower() in ("true", "1", "yes")
            elif isinstance(default, int):
                out[key] = int(val)
            elif isinstance(default, float) or default is None:
                out[key] = float(val)
            else:
                out[key] = val
        except ValueError:
            kind = {bool: "boolean (true/false)", int: "an integer", float: "a number", type(None): "a number"}
            raise ValueError(f"--{key} must be {kind.get(type(default), 'a string')}, got {val!r}") from None
    return out


def describe(mdp: LinearMDP, seed: int, alpha: float | None) -> dict[str, Any]:
    """The description as a JSON-ready dict: shapes, params, V*, π*_1 at the start, one episode."""
    opt = dp.optimal(mdp)
    out: dict[str, Any] = {
        "name": mdp.name,
        "params": mdp.params,
        "S": mdp.S,
        "A": mdp.A,
        "d": mdp.d,
        "H": mdp.H,
        "linear": mdp.is_linear,
        "bernoulli_rewards": mdp.bernoulli_rewards,
        "V_star": dp.initial_value(mdp, opt.V),
        "pi_star_first_action": int(opt.pi[0, int(np.argmax(mdp.init))]),
    }
    if mdp.is_linear:
        out["linearity_residual"] = mdp.linearity_residual()
    if alpha is not None:
        opt_a = dp.optimal(mdp, alpha)
        out["alpha"] = alpha
        out["V_star_icvar"] = dp.initial_value(mdp, opt_a.V)
        out["pi_star_icvar_first_action"] = int(opt_a.pi[0, int(np.argmax(mdp.init))])
        out["icvar_regret_of_neutral_pi_star"] = float(dp.regret(mdp, opt.pi[None], alpha)[0])
    s, a, r = rollout.sample_episode(mdp, opt.pi, np.random.default_rng(seed))
    out["episode_seed"] = seed
    out["episode"] = {"states": s.tolist(), "actions": a.tolist(), "rewards": r.tolist(), "return": float(r.sum())}
    return out


def _text(desc: dict[str, Any]) -> str:
    lines = [
        f"instance   {desc['name']}  params {json.dumps(desc['params'])}",
        f"shapes     S={desc['S']} A={desc['A']} d={desc['d']} H={desc['H']}  linear={desc['linear']}"
        + (f" (residual {desc['linearity_residual']:.2e})" if "linearity_residual" in desc else ""),
        f"V*         {desc['V_star']:.6f}   (rho0 . V*_1, risk-neutral, exact DP)",
        f"pi*_1      first action {desc['pi_star_first_action']}",
    ]
    if "V_star_icvar" in desc:
        lines.append(
            f"V*_alpha   {desc['V_star_icvar']:.6f}   (iterated CVaR, alpha={desc['alpha']:g}); first action "
            f"{desc['pi_star_icvar_first_action']}; CVaR regret of the risk-neutral pi*: "
            f"{desc['icvar_regret_of_neutral_pi_star']:.6f}"
        )
    ep = desc["episode"]
    lines.append(f"episode    (pi*, seed {desc['episode_seed']}) return {ep['return']:.3f}")
    lines.append(f"  states   {ep['states']}")
    lines.append(f"  actions  {ep['actions']}")
    lines.append(f"  rewards  {[round(x, 3) for x in ep['rewards']]}")
    return "\n".join(lines)


@cli_main(PROG)
def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m simulators``."""
    parser = CliParser(prog=PROG, description="Linear-MDP simulators: describe an instance exactly.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=CliParser)
    d = sub.add_parser(
        "describe",
        allow_abbrev=False,
        help="describe an instance: shapes, V*, optional iterated-CVaR V*, an episode",
        epilog="Instance parameters are given as --NAME VALUE (e.g. --d 4 --H 5 --K 2000); "
        "'python -m simulators list' shows them with their defaults.",
    )
    src = d.add_mutually_exclusive_group(required=True)
    src.add_argument("--instance", choices=list(INSTANCES), help="named instance (spec §2)")
    src.add_argument("--load", metavar="FILE.npz", help="describe an instance saved with --save")
    d.add_argument("--seed", type=nonneg_int, default=0, help="instance seed and episode seed (default 0)")
    d.add_argument("--alpha", type=unit_interval, default=None, help="also give the iterated-CVaR V* at this alpha")
    d.add_argument("--save", metavar="FILE.npz", help="write the instance to FILE.npz (never overwrites)")
    d.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    sub.add_parser("list", help="list the instances and their parameters with defaults")
    args, extra = parser.parse_known_args(argv)

    if args.command == "list":
        if extra:
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
        for name in INSTANCES:
            params = " ".join(f"--{k} {v}" for k, v in instance_params(name).items())
            print(f"{name:14s} {params}")
        return 0

    if args.load is not None:
        if extra:
            parser.error(f"instance parameters {' '.join(extra)} cannot be combined with --load")
        mdp = LinearMDP.load(args.load)
    else:
        mdp = make_instance(args.instance, seed=args.seed, **_parse_params(args.instance, extra))
    if args.save is not None:
        mdp.save(args.save)
    desc = describe(mdp, args.seed, args.alpha)
    if args.save is not None:
        desc["saved_to"] = args.save
    if args.json:
        sys.stdout.write(json.dumps(desc) + "\n")
    else:
        print(_text(desc))
        if args.save is not None:
            print(f"saved      {args.save}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
