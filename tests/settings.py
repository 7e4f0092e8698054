"""The settings of the test suite: Pulse's own, in development mode unless DEBUG is set.

Set here, before pulse.settings reads it, so `python -m pytest` works without `make`;
processes the tests start inherit it.
"""

import os

os.environ.setdefault("DEBUG", "true")

from pulse.settings import *  # noqa: E402, F401, F403
