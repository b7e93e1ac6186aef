"""Filtering by a long list of ids without paying for the list in Python.

`field__in=[...]` with the 800 ids of a large team makes Django resolve, prepare and quote
every id as its own parameter (about 3 ms of CPU per query at 800 ids, several queries per
plan page), so a page that reads a whole team grows with the team in CPU even at a constant
number of queries. On PostgreSQL the ids travel as one array parameter instead.
"""

from collections.abc import Iterable

from django.db import connection
from django.db.models.expressions import RawSQL


def among(ids: Iterable[int]) -> list[int] | RawSQL:
    """The right-hand side of `field__in=` for these ids: one array parameter on PostgreSQL,
    the plain list elsewhere (SQLite has no arrays)."""
    ids = list(ids)
    if connection.vendor != "postgresql":
        return ids
    return RawSQL("SELECT unnest(%s::bigint[])", (ids,))
