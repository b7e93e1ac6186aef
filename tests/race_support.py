"""Several requests at the same moment, as a race test needs them: each call in its own thread
(with its own database connection), all released together by a barrier."""

import threading
from collections.abc import Callable

from django.db import connection


def at_once(
    calls: list[Callable[[], object]],
    *,
    success: str,
    refused: tuple[type[Exception], ...] = (),
    refused_as: str = "refused",
) -> list[str]:
    """Run every call at once; one outcome per call, in the order they finished: `success`,
    "<refused_as>: <message>" for an expected refusal, or "error: ..." for anything else."""
    barrier = threading.Barrier(len(calls))
    outcomes: list[str] = []
    lock = threading.Lock()

    def run(call):
        try:
            barrier.wait()
            call()
            result = success
        except refused as exc:
            result = f"{refused_as}: {exc}"
        except Exception as exc:  # noqa: BLE001 - the test reports anything else
            result = f"error: {exc!r}"
        finally:
            connection.close()
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return outcomes
