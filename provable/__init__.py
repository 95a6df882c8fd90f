"""Provable RL on linear MDPs: LSVI-UCB, LSVI-UCB+, LSVI-UCB++ (and iterated CVaR), with an exact-regret
harness.

Layout (spec §4.3, architecture.md): :mod:`provable.ridge` (the one weighted ridge kernel, eqs. (34),
(32b), (35)); :mod:`provable.agents` (one Agent interface, the ``ALGORITHMS`` registry, the
``VarianceAwareLSVI`` engine and its presets); :mod:`provable.bounds` (the stated bounds);
:mod:`provable.harness` (runs, sweeps, growth checks, plots); ``python -m provable regret``.
"""
