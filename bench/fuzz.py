"""The long API fuzz: tests/test_schemathesis.py with >= 10,000 generated cases per role.

Each role (engineer, manager, outsider, anonymous) runs in a pytest process of its own, with a
test database of its own, on PostgreSQL (DATABASE_URL must point at it). The figures go to
bench/results/fuzz.jsonl (one line per role) and bench/results/fuzz.md.

    DATABASE_URL=postgres://... python bench/fuzz.py [--examples 150] [--parallel 2]
"""

import argparse
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
ROLES = ["engineer", "manager", "outsider", "anonymous"]


def run_role(role: str, examples: int, jsonl: Path) -> tuple[str, int, float, str]:
    env = {
        **os.environ,
        "ONEHAND_FUZZ_EXAMPLES": str(examples),
        "ONEHAND_FUZZ_RESULTS": str(jsonl),
        "DATABASE_TEST_NAME": f"test_onehand_fuzz_{role}",
    }
    started = time.monotonic()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "tests/test_schemathesis.py",
            "-k",
            f"[{role}]",
            "-q",
            "-s",
            "--create-db",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    return role, done.returncode, time.monotonic() - started, done.stdout[-3000:]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--examples", type=int, default=150, help="cases per operation")
    parser.add_argument("--parallel", type=int, default=2)
    parser.add_argument("--roles", default=",".join(ROLES))
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        sys.exit("set DATABASE_URL to PostgreSQL")
    RESULTS.mkdir(exist_ok=True)
    jsonl = RESULTS / "fuzz.jsonl"
    jsonl.unlink(missing_ok=True)
    roles = args.roles.split(",")
    with ThreadPoolExecutor(args.parallel) as pool:
        outcomes = list(pool.map(lambda r: run_role(r, args.examples, jsonl), roles))
    rows = [json.loads(line) for line in jsonl.read_text().splitlines()] if jsonl.exists() else []
    lines = [
        "# API fuzz (schemathesis, in-process WSGI, PostgreSQL)",
        "",
        f"{args.examples} generated cases per operation, derandomised; checks: no 5xx, status "
        "code, content type, headers and body conform to the schema "
        "(see tests/test_schemathesis.py for the checks left out and why).",
        "",
        "| role | operations | requests | 2xx | 4xx | 5xx | failing operations | seconds |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in sorted(rows, key=lambda r: ROLES.index(r["role"])):
        lines.append(
            f"| {row['role']} | {row['operations']} | {row['requests']} | {row['2xx']} | "
            f"{row['4xx']} | {row['5xx']} | {row['failing_operations']} | {row['seconds']} |"
        )
    for row in rows:
        for failure in row["failures"]:
            lines.append(f"\n- {row['role']}: {failure[:600]}")
    for role, code, seconds, tail in outcomes:
        lines.append(f"\n<!-- {role}: exit {code} after {seconds:.0f} s -->")
        print(role, code, f"{seconds:.0f}s", tail[-400:])
    (RESULTS / "fuzz.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
