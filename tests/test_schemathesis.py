"""API fuzzing: every operation of /api/schema/, run in-process (WSGI) by schemathesis.

For each role (an engineer and a manager of a team with a published roster, an outsider in no
team, all with token auth, and anonymous) and
each operation in the schema, hypothesis generates a bounded number of valid requests
(`max_examples`, derandomised, no deadline). Path ids are half of the time replaced by the
real object of that kind, so detail and action endpoints reach the code behind the 404.

Checks: no 5xx, and a response the schema documents (2xx) has the documented content type and
body. Undocumented statuses (400/403/404/405) are expected for fuzzed input and not checked
against the schema. Each example runs in a savepoint rolled back afterwards, so a fuzzed DELETE
of the team does not empty the fixture for the next operation. All failures are collected and
reported together, one line per operation.
"""

import json
import os
import time
from pathlib import Path

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.test_permission_matrix import build_world

pytestmark = [pytest.mark.slow, pytest.mark.django_db]

schemathesis = pytest.importorskip("schemathesis")

# The suite runs a short seeded fuzz; bench/fuzz.py sets ONEHAND_FUZZ_EXAMPLES for the long one
# (and ONEHAND_FUZZ_RESULTS, a JSON file each role's figures are appended to).
MAX_EXAMPLES = int(os.environ.get("ONEHAND_FUZZ_EXAMPLES", "6"))
RESULTS = os.environ.get("ONEHAND_FUZZ_RESULTS")
ROLES = ["engineer", "manager", "outsider", "anonymous"]

# The first path segment of an operation -> the fixture object its `{id}` stands for.
REAL_IDS = {
    "teams": "team",
    "memberships": "membership",
    "rotations": "rotation",
    "rosters": "roster",
    "shifts": "shift",
    "swaps": "swap",
    "offers": "offer",
    "requirements": "requirement",
    "qualifications": "qualification",
    "availability": "entry",
    "calendar-sources": "source",
    "availability-locks": "lock",
    "allocations": "allocation",
}


@pytest.fixture
def fuzz_data():
    """The permission matrix's world: a team with a published roster, an open swap with an
    offer, a requirement and a claim, availability, a calendar source, a lock, an allocation."""
    from rest_framework.authtoken.models import Token

    users, objects = build_world()
    tokens = {
        role: Token.objects.create(user=users[role]).key
        for role in ("engineer", "manager", "outsider")
    }
    return {"objects": objects, "tokens": tokens}


@pytest.fixture
def keep_test_connection():
    """Requests go through the real WSGI handler (not Django's test client), whose
    request_started/finished signals close "obsolete" connections: inside the test's
    transaction that would close it (and on PostgreSQL roll the fixture data away). Django's
    test client disconnects the same handlers."""
    from django.core import signals
    from django.db import close_old_connections

    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


def _load_schema():
    from onehand.wsgi import application

    return schemathesis.openapi.from_wsgi("/api/schema/", application)


def _runner(operation, kind, objects, headers, checks, statuses):
    """A hypothesis test of one operation (a function of its own: @given takes no defaults)."""

    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
        report_multiple_bugs=False,
    )
    @given(case=operation.as_strategy(), real=st.booleans())
    def run(case, real):
        if real and kind and case.path_parameters and "id" in case.path_parameters:
            case.path_parameters["id"] = objects[kind].pk
        with transaction.atomic():
            response = case.call(headers=headers)
            statuses.append(response.status_code)
            try:
                case.validate_response(response, checks=checks, headers=headers)
            finally:
                transaction.set_rollback(True)

    return run


@pytest.mark.parametrize("role", ROLES)
def test_every_operation_survives_fuzzing(keep_test_connection, fuzz_data, role):
    """Checks, per response (the `--checks all` set that applies to single responses):
    no 5xx; the status code is one the schema lists for the operation; content type, headers
    and body conform to the schema. Left out, and why:
    - positive_data_acceptance: a valid request of an outsider or anonymous is refused by
      design (401/403/404), and fuzzed ids name objects of nobody's; the check would only
      measure the permission model;
    - negative_data_rejection, missing_required_header, unsupported_method, ignored_auth and
      the stateful checks (use_after_free, ensure_resource_availability): they need negative
      or stateful generation, which the in-process runner here does not do."""
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        response_headers_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

    schema = _load_schema()
    token = fuzz_data["tokens"].get(role)
    headers = {"Authorization": f"Token {token}"} if token else {}
    objects = fuzz_data["objects"]
    checks = [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_headers_conformance,
        response_schema_conformance,
    ]
    failures: list[str] = []
    statuses: list[int] = []
    operations = 0
    started = time.monotonic()

    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        kind = REAL_IDS.get(operation.path.strip("/").split("/")[0])

        run = _runner(operation, kind, objects, headers, checks, statuses)
        try:
            run()
        except BaseException as exc:  # noqa: BLE001 - collect every operation's failure
            if isinstance(exc, KeyboardInterrupt):
                raise
            first = str(exc).strip().splitlines()
            failures.append(
                f"{operation.method.upper()} {operation.path}: {' | '.join(first[:12])}"
            )

    assert operations > 20, "the schema lists too few operations: did /api/schema/ change?"
    ok = sum(200 <= code < 300 for code in statuses)
    server_errors = sum(code >= 500 for code in statuses)
    print(f"{role}: {len(statuses)} requests, {ok} 2xx, {server_errors} 5xx")  # noqa: T201
    if RESULTS:
        with Path(RESULTS).open("a") as out:
            out.write(
                json.dumps(
                    {
                        "role": role,
                        "operations": operations,
                        "examples_per_operation": MAX_EXAMPLES,
                        "requests": len(statuses),
                        "2xx": ok,
                        "4xx": sum(400 <= code < 500 for code in statuses),
                        "5xx": server_errors,
                        "failing_operations": len(failures),
                        "failures": failures,
                        "seconds": round(time.monotonic() - started, 1),
                    }
                )
                + "\n"
            )
    if role in ("engineer", "manager"):
        assert ok >= 20, f"too few successful requests to mean anything: {sorted(statuses)}"
    assert not failures, f"{len(failures)} operation(s) failed as {role}:\n" + "\n\n".join(failures)
