"""Numerical checks of the lemmas the regret proofs use (spec §7), one module per lemma family.

- :mod:`proofs_checks.elliptical`: elliptical potential (32a)-(32c), weighted version, det doublings;
- :mod:`proofs_checks.concentration`: Hoeffding / Bernstein self-normalised bounds by Monte-Carlo coverage;
- :mod:`proofs_checks.cvar_props`: properties of the exact CVaR operator and the grid operator's error;
- :mod:`proofs_checks.bellman`: Bellman, performance-difference, total-variance and regret identities;
- :mod:`proofs_checks.optimism`: Q̂ ≥ Q* on real LSVI runs, and the feature sequences they visit.

Each check returns :class:`proofs_checks.core.CheckResult` rows (left side, right side, slack, holds,
and the inputs for reproduction). ``python -m proofs_checks`` runs them all.
"""

from proofs_checks.core import CheckResult, format_table, load_case, save_case

__all__ = ["CheckResult", "format_table", "load_case", "save_case"]
