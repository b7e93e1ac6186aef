"""Read an .ics file in a child process with hard limits on memory and time.

Why a child process, and not a Celery task with a time limit: the budgets in
:mod:`availability.ics` refuse every hostile shape we know quickly and by name, but
the parsing libraries are large and a shape we don't know must still not take a web
or Celery worker with it.  Only the operating system can stop a runaway parser for
sure: a C-level loop ignores Python signal handlers (the reported worker ignored
SIGTERM), a Celery time limit only exists with the prefork pool (not in-process, not
with ``make run``) and bounds no memory at all.  A fresh interpreter with
``RLIMIT_AS`` (address space), ``RLIMIT_CPU`` and a wall-clock kill from the parent
bounds all three, behaves the same for uploads (called from the request) and for URL
imports (called from the worker, after the fetch), costs a fraction of a second,
needs no broker, and can't touch the database: it gets the bytes on stdin, no
environment (no secrets) and answers JSON on stdout.

Time: the caller gives one budget in seconds (:data:`UPLOAD_SECONDS` for a small upload
the request waits for, :data:`WORKER_SECONDS` in the Celery worker).  The parser checks
it itself and answers "took too long (the limit is N seconds)"; the child's CPU limit
and the parent's wall-clock kill sit a little above it (start-up slack) and give the
same message with the same N.

The child also starts fresh each time, so icalendar's process-wide time zone cache
never grows in a long-lived worker.
"""

from __future__ import annotations

import json
import math
import os
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

from .ics import (
    MAX_ICS_BYTES,
    BusyInterval,
    CalendarEvent,
    CalendarImportError,
    parse_busy_intervals,
    parse_events,
    too_big,
    too_slow,
)

__all__ = [
    "MEMORY_BYTES",
    "START_SLACK_SECONDS",
    "UPLOAD_SECONDS",
    "WORKER_SECONDS",
    "parse_busy_intervals_isolated",
    "parse_events_isolated",
]

#: Reading budget of a small upload, parsed while the request waits.
UPLOAD_SECONDS = 3.0
#: Reading budget in the Celery worker (URL imports, large uploads).
WORKER_SECONDS = 20.0
#: Start-up allowance on top of the budget before the child is killed (wall and CPU).
START_SLACK_SECONDS = 1.5
#: Address space the child may add after loading the libraries (RLIMIT_AS).
MEMORY_BYTES = 160 * 1024 * 1024

_ROOT = Path(__file__).resolve().parent.parent
_CHILD = "from availability.ics_sandbox import _child; _child()"

TOO_BIG_IN_MEMORY = (
    "The calendar needs more than {mb} MB of memory to read, the limit. "
    "Export a shorter period or fewer calendars."
)


def parse_busy_intervals_isolated(
    data: bytes,
    *,
    period_start: datetime,
    period_end: datetime,
    default_tz: str = "UTC",
    owner_emails: Iterable[str] = (),
    max_bytes: int = MAX_ICS_BYTES,
    seconds: float = UPLOAD_SECONDS,
    report: dict | None = None,
) -> list[BusyInterval]:
    """:func:`availability.ics.parse_busy_intervals` in a resource-limited child.

    Raises :class:`CalendarImportError` for a bad file or one over a limit, and
    ``ValueError`` for bad arguments.  ``report``, when given, receives what the
    child measured (``wall_seconds``, ``rss_growth_bytes``): tests assert on it.
    """
    if period_start.tzinfo is None or period_end.tzinfo is None:
        raise ValueError("period_start and period_end must be timezone-aware")
    if len(data) > max_bytes:
        raise too_big(len(data), max_bytes)  # no child for what we refuse anyway
    answer = _run_child(
        data,
        {
            "mode": "busy",
            "period_start": period_start.isoformat(),
            "period_end": period_end.isoformat(),
            "default_tz": default_tz,
            "owner_emails": list(owner_emails),
            "max_bytes": max_bytes,
        },
        seconds=seconds,
        report=report,
    )
    return [
        BusyInterval(datetime.fromisoformat(s), datetime.fromisoformat(e), all_day, kind)
        for s, e, all_day, kind in answer["intervals"]
    ]


def parse_events_isolated(
    data: bytes,
    *,
    period_start: datetime,
    period_end: datetime,
    default_tz: str = "UTC",
    max_bytes: int = MAX_ICS_BYTES,
    seconds: float = UPLOAD_SECONDS,
) -> list[CalendarEvent]:
    """:func:`availability.ics.parse_events` in the same resource-limited child."""
    if period_start.tzinfo is None or period_end.tzinfo is None:
        raise ValueError("period_start and period_end must be timezone-aware")
    if len(data) > max_bytes:
        raise too_big(len(data), max_bytes)
    answer = _run_child(
        data,
        {
            "mode": "events",
            "period_start": period_start.isoformat(),
            "period_end": period_end.isoformat(),
            "default_tz": default_tz,
            "max_bytes": max_bytes,
        },
        seconds=seconds,
        report=None,
    )
    return [
        CalendarEvent(
            datetime.fromisoformat(s), datetime.fromisoformat(e), summary, tuple(em), tuple(nm)
        )
        for s, e, summary, em, nm in answer["events"]
    ]


def _run_child(data: bytes, fields: dict, *, seconds: float, report: dict | None) -> dict:
    arguments = json.dumps(
        {
            **fields,
            "seconds": seconds,
            "cpu_seconds": math.ceil(seconds + START_SLACK_SECONDS),
            "memory_bytes": MEMORY_BYTES,
        }
    )
    try:
        done = subprocess.run(  # noqa: S603 - our own interpreter and module, no shell
            [sys.executable, "-E", "-s", "-c", _CHILD, arguments],
            input=data,
            capture_output=True,
            timeout=seconds + START_SLACK_SECONDS,
            cwd=_ROOT,
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"},
            check=False,
        )
    except subprocess.TimeoutExpired as error:  # run() has killed the child
        raise too_slow(seconds) from error
    try:
        answer = json.loads(done.stdout or b"null")
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        if done.returncode in (-signal.SIGXCPU, -signal.SIGKILL):
            raise too_slow(seconds)
        # Out of address space outside of Python's reach (the allocator, a C library).
        raise CalendarImportError(TOO_BIG_IN_MEMORY.format(mb=MEMORY_BYTES // (1024 * 1024)))
    if report is not None:
        report.update(answer.get("report", {}))
    if "error" in answer:
        raise CalendarImportError(answer["error"])
    if "argument_error" in answer:
        raise ValueError(answer["argument_error"])
    return answer


# --------------------------------------------------------------------------
# The child
# --------------------------------------------------------------------------


def _status_bytes(field: str) -> int:
    """A size from /proc/self/status (VmRSS, VmHWM, VmSize), in bytes."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return 0


def _child() -> None:
    """Entry point of the child: limits first, then read stdin, answer on stdout."""
    started = time.monotonic()
    arguments = json.loads(sys.argv[1])
    cpu = int(arguments["cpu_seconds"])
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))  # writes no files
    baseline = _status_bytes("VmRSS")
    # The libraries are loaded (this module imported availability.ics): the budget is
    # what the parse may add on top.
    limit = _status_bytes("VmSize") + int(arguments["memory_bytes"])
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    data = sys.stdin.buffer.read()
    answer: dict
    try:
        common = {
            "period_start": datetime.fromisoformat(arguments["period_start"]),
            "period_end": datetime.fromisoformat(arguments["period_end"]),
            "default_tz": arguments["default_tz"],
            "max_bytes": int(arguments["max_bytes"]),
            "max_seconds": float(arguments["seconds"]),
        }
        if arguments.get("mode") == "events":
            events = parse_events(data, **common)
            answer = {
                "events": [
                    [e.start.isoformat(), e.end.isoformat(), e.summary, e.emails, e.names]
                    for e in events
                ]
            }
        else:
            intervals = parse_busy_intervals(data, owner_emails=arguments["owner_emails"], **common)
            answer = {
                "intervals": [
                    [i.start.isoformat(), i.end.isoformat(), i.all_day, i.kind] for i in intervals
                ]
            }
    except CalendarImportError as error:
        answer = {"error": str(error)}
    except ValueError as error:
        answer = {"argument_error": str(error)}
    except (MemoryError, RecursionError):
        answer = {
            "error": TOO_BIG_IN_MEMORY.format(mb=int(arguments["memory_bytes"]) // (1024 * 1024))
        }
    except Exception:  # noqa: BLE001 - the parent gets a message, never a traceback
        answer = {
            "error": "The calendar could not be read. The file may be damaged; export it again."
        }
    # VmHWM, not ru_maxrss: the latter keeps the parent's peak across exec.
    peak = _status_bytes("VmHWM")
    answer["report"] = {
        "wall_seconds": round(time.monotonic() - started, 3),
        "rss_growth_bytes": max(peak - baseline, 0),
    }
    sys.stdout.write(json.dumps(answer))
    sys.stdout.flush()
