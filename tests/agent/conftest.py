"""Agent tests: make ``pulse_agent`` importable even when the agent isn't installed."""

import os
import sys

AGENT_DIR = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "agent"))
if AGENT_DIR not in sys.path:
    sys.path.insert(0, AGENT_DIR)
