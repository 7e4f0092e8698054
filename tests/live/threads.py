"""Running async test scenarios beside Playwright's sync API."""

import threading

from asgiref.sync import async_to_sync
from django.db import connections


def run_async(coroutine_function):
    """Run ``coroutine_function()`` to completion on a thread of its own and return its result.

    Playwright's sync API keeps an event loop running on the main thread once a browser test
    has started, and asyncio refuses to start a second one there.
    """
    outcome = {}

    def target():
        try:
            outcome["value"] = async_to_sync(coroutine_function)()
        except BaseException as exc:  # re-raised on the test's thread
            outcome["error"] = exc
        finally:
            connections.close_all()  # this thread's database connections, if any

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]
