"""The shape of the code, checked: layers point down and no import hides inside a function.

`lint-imports` (run by `make test`) enforces the layers contract in pyproject.toml; these
tests keep the rules a newcomer could break without noticing.
"""

import ast
import inspect
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
OUR_PACKAGES = ("onehand", "rotation", "availability", "incidents", "planning", "notifications")


def _modules():
    for package in OUR_PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            yield path


def _function_level_imports(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        # AppConfig.ready() is where Django wants signal receivers connected.
        if path.name == "apps.py" and node.name == "ready":
            continue
        for inner in ast.walk(node):
            if isinstance(inner, ast.ImportFrom):
                module = "." * inner.level + (inner.module or "")
                if inner.level or module.split(".")[0] in OUR_PACKAGES:
                    yield f"{path.relative_to(ROOT)}:{inner.lineno} from {module}"
            elif isinstance(inner, ast.Import):
                for alias in inner.names:
                    if alias.name.split(".")[0] in OUR_PACKAGES:
                        yield f"{path.relative_to(ROOT)}:{inner.lineno} import {alias.name}"


def test_no_import_of_our_own_code_hides_inside_a_function():
    hidden = [hit for path in _modules() for hit in _function_level_imports(path)]
    assert hidden == []


def test_the_layers_contract_names_every_app_in_the_readme_order():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    layers = next(c for c in config["contracts"] if c["type"] == "layers")["layers"]
    apps = [layer for layer in layers if not layer.startswith("onehand")]
    assert apps == ["notifications", "planning", "incidents", "availability", "rotation"]
    readme = (ROOT / "README.md").read_text()
    assert "notifications → planning → incidents → availability → rotation → onehand base" in readme


# Public functions of the service modules that only read or compute (no write, no actor).
READS = {
    "rotation.services": {
        "rotation_windows",
        "window_defs",
        "coverage_problem",
        "audit",
        "may_create_teams",
    },
    "availability.services": {"import_window", "lock_message", "url_sources_due"},
    "planning.services": {"recommend_for", "check_slot"},
    "rotation.backup": {"counts", "export_team"},
    "incidents.services": {"hash_token", "signing_secret", "signature_ok"},
    "planning.swaps": {"rank_replacements", "offer_expiry"},
    "planning.pay": {"held_hours", "price", "rates_for", "month_range", "pay_report"},
}


def _write_services():
    from availability import services as availability_services
    from incidents import services as incident_services
    from notifications import services as notification_services
    from planning import pay, swaps
    from planning import services as planning_services
    from rotation import backup, history
    from rotation import services as rotation_services

    modules = (
        rotation_services,
        availability_services,
        incident_services,
        planning_services,
        swaps,
        notification_services,
        history,
        backup,
        pay,
    )
    for module in modules:
        for name, function in inspect.getmembers(module, inspect.isfunction):
            if function.__module__ != module.__name__ or name.startswith("_"):
                continue
            if name in READS.get(module.__name__, ()):
                continue
            yield module.__name__, name, inspect.signature(function)


def test_every_write_service_requires_an_explicit_actor():
    """No write service can be called without an actor: `by` is keyword-only and required."""
    services = list(_write_services())
    assert len(services) > 20
    missing = [
        f"{module}.{name}{signature}"
        for module, name, signature in services
        if "by" not in signature.parameters
        or signature.parameters["by"].kind is not inspect.Parameter.KEYWORD_ONLY
        or signature.parameters["by"].default is not inspect.Parameter.empty
    ]
    assert missing == []


@pytest.mark.django_db
def test_a_write_service_called_without_an_actor_refuses_before_writing():
    from rotation import services
    from rotation.models import Team

    with pytest.raises(TypeError):
        services.create_team(name="Nobody's", slug="nobody", by=None)
    assert not Team.objects.filter(slug="nobody").exists()


def test_selectors_take_keyword_arguments_only():
    """Reads are called by name (`teams_for(user=...)`), so a swapped argument cannot pass."""
    from availability import selectors as availability_selectors
    from planning import selectors as planning_selectors
    from rotation import oncall
    from rotation import selectors as rotation_selectors

    modules = (rotation_selectors, availability_selectors, planning_selectors, oncall)
    positional = [
        f"{module.__name__}.{name}{inspect.signature(function)}"
        for module in modules
        for name, function in inspect.getmembers(module, inspect.isfunction)
        if function.__module__ == module.__name__
        and not name.startswith("_")
        and any(
            p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
            for p in inspect.signature(function).parameters.values()
        )
    ]
    assert positional == []
