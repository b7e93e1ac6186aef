"""Three independent readings of a rendered .ics: each gives every VEVENT's UTC start and end.

- icalendar: the VEVENTs' wall-clock times read through the file's own VTIMEZONE
  (``Timezone.to_tz(lookup_tzid=False)``, dateutil underneath) *and* through the IANA zone
  named by the TZID (as clients with their own time zone database do: Google Calendar);
  both must agree or the event is reported twice.
- vobject: the wall-clock times read through the file's VTIMEZONE as vobject hands it over
  (``gettzinfo()``, dateutil's tzical). vobject's own resolution of a TZID goes through a
  process-wide registry (the first definition it ever met for that name, else pytz), which
  says nothing about this file.
- ical.js under node (the parser inside Thunderbird): tests/js/parse_ics.mjs, installed with
  npm into tests/js/node_modules by the ``icaljs`` fixture.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import icalendar
import pytest
import vobject

from tests.services import REQUIRE

JS = Path(__file__).parent / "js"
PARSERS = ("icalendar", "vobject", "ical.js")


@dataclass(frozen=True)
class Parsed:
    """One parser's reading of one calendar."""

    components: tuple[str, ...]  # the VCALENDAR's sub-components, in order, upper case
    events: dict[str, tuple[datetime, datetime]]  # UID -> (UTC start, UTC end)


def _utc(value: datetime) -> datetime:
    assert value.tzinfo is not None, f"floating time {value!r}"
    return value.astimezone(UTC)


def _iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def _unique(pairs: list[tuple[str, tuple[datetime, datetime]]]) -> dict:
    found: dict[str, tuple[datetime, datetime]] = {}
    for uid, times in pairs:
        assert uid not in found, f"UID {uid} twice"
        found[uid] = times
    return found


# --------------------------------------------------------------------------- icalendar


def with_icalendar(body: bytes) -> Parsed:
    calendar = icalendar.Calendar.from_ical(body)
    zones = {tz.tz_name: tz.to_tz(lookup_tzid=False) for tz in calendar.timezones}
    pairs = []
    for event in calendar.walk("VEVENT"):
        times = []
        for name in ("DTSTART", "DTEND"):
            prop = event[name]
            tzid = prop.params.get("TZID")
            by_name = _utc(prop.dt)  # zoneinfo, looked up by the TZID
            if tzid:
                by_definition = _utc(prop.dt.replace(tzinfo=zones[tzid]))
                assert by_definition == by_name, (
                    f"{event['UID']} {name}: the VTIMEZONE says {by_definition}, "
                    f"the IANA zone {tzid} says {by_name}"
                )
            times.append(by_name)
        pairs.append((str(event["UID"]), (times[0], times[1])))
    components = tuple(c.name for c in calendar.subcomponents)
    return Parsed(components, _unique(pairs))


# --------------------------------------------------------------------------- vobject


def with_vobject(body: bytes) -> Parsed:
    calendar = vobject.readOne(body.decode())
    zones = {vtz.tzid.value: vtz.gettzinfo() for vtz in calendar.contents.get("vtimezone", [])}
    pairs = []
    for event in calendar.contents.get("vevent", []):
        times = []
        for line in (event.dtstart, event.dtend):
            value = line.value
            tzid = line.params.get("X-VOBJ-ORIGINAL-TZID", [None])[0]
            # vobject itself resolves a TZID through a process-wide registry (the first
            # definition it ever met for that name, else pytz): read the wall-clock time
            # through this file's own VTIMEZONE instead.
            times.append(_utc(value.replace(tzinfo=zones[tzid]) if tzid else value))
        pairs.append((event.uid.value, (times[0], times[1])))
    components = tuple(
        child.name.upper()
        for child in calendar.getChildren()
        if isinstance(child, vobject.base.Component)
    )
    return Parsed(components, _unique(pairs))


# --------------------------------------------------------------------------- ical.js


def _missing(reason: str):
    if REQUIRE or os.environ.get("CI"):
        pytest.fail(f"ical.js is required here: {reason}", pytrace=False)
    pytest.skip(reason)


def install_icaljs() -> Path:
    """tests/js/node_modules from tests/js/package-lock.json, installed once when missing."""
    if (JS / "node_modules" / "ical.js" / "package.json").is_file():
        return JS
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        _missing("node and npm are not installed (apt-get install nodejs npm)")
    result = subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error"],
        cwd=JS,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if result.returncode != 0:
        _missing(f"npm ci in {JS} failed: {(result.stderr or result.stdout)[-2000:]}")
    return JS


def with_icaljs(bodies: list[bytes]) -> list[Parsed]:
    """Many calendars in one node process (starting node costs more than parsing)."""
    if not bodies:
        return []
    with tempfile.TemporaryDirectory(prefix="onehand-ics-") as folder:
        paths = []
        for number, body in enumerate(bodies):
            path = Path(folder) / f"{number}.ics"
            path.write_bytes(body)
            paths.append(str(path))
        result = subprocess.run(
            ["node", str(JS / "parse_ics.mjs"), *paths],
            capture_output=True,
            text=True,
            timeout=300,
        )
    assert result.returncode == 0, f"ical.js failed: {result.stderr[-3000:]}"
    found = json.loads(result.stdout)
    parsed = []
    for path in paths:
        reading = found[path]
        pairs = [
            (event["uid"], (_iso(event["start"]), _iso(event["end"])))
            for event in reading["events"]
        ]
        parsed.append(Parsed(tuple(c.upper() for c in reading["components"]), _unique(pairs)))
    return parsed


def read_all(bodies: list[bytes]) -> dict[str, list[Parsed]]:
    """Every calendar through every parser: {parser: [reading of each body]}."""
    return {
        "icalendar": [with_icalendar(body) for body in bodies],
        "vobject": [with_vobject(body) for body in bodies],
        "ical.js": with_icaljs(bodies),
    }
