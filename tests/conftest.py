"""Test-suite configuration shared by every test package.

Hypothesis profiles: ``ci`` (the default: bounded examples so the suite stays fast) and ``thorough``
(many more examples): ``pytest --hypothesis-profile=thorough``.
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "thorough",
    max_examples=2000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile("ci")
