"""What the pure recommender tests share: no database, and hypothesis settings for properties."""

import types

from hypothesis import HealthCheck
from hypothesis import settings as hyp_settings


def property_settings(max_examples: int):
    """Seeded and without a deadline (the solver's time varies with the machine's load); the
    autouse fixtures of tests/conftest.py are function-scoped and irrelevant here."""
    return hyp_settings(
        max_examples=max_examples,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
        derandomize=True,
    )


def no_django() -> types.SimpleNamespace:
    """What a module's own `settings` fixture returns to stand in for pytest-django's (used by
    conftest's autouse fixtures), so pure recommender tests never touch Django."""
    return types.SimpleNamespace()
