"""Agent tests: make ``pulse_agent`` importable even when the agent isn't installed."""

import json
import os
import subprocess
import sys

import pytest

AGENT_DIR = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "agent"))
if AGENT_DIR not in sys.path:
    sys.path.insert(0, AGENT_DIR)

APPS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "apps")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from sink import KEY, Sink  # noqa: E402


@pytest.fixture
def sink():
    s = Sink()
    yield s
    s.close()


@pytest.fixture(scope="module")
def module_sink():
    s = Sink()
    yield s
    s.close()


def agent_env(sink_url, **extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PULSE_", "DJANGO_"))}
    env.update(
        PYTHONPATH=os.pathsep.join([AGENT_DIR, APPS_DIR]),
        PULSE_ENDPOINT=sink_url,
        PULSE_INGEST_KEY=KEY,
        PULSE_APP_NAME="agent-test",
        PULSE_HARVEST_INTERVAL="0.2",
        PULSE_SHUTDOWN_TIMEOUT="5",
        PYTHONUNBUFFERED="1",
    )
    env.update({k: str(v) for k, v in extra.items()})
    return env


def run_app(script, sink_url, *args, timeout=60, via_cli=True, **env):
    """Run tests/agent/apps/<script> under the agent in a fresh process.

    Returns (parsed JSON of its last stdout line or None, CompletedProcess)."""
    cmd = [sys.executable, os.path.join(APPS_DIR, script), *args]
    if via_cli:
        cmd = [sys.executable, "-m", "pulse_agent.cli", "run", "--"] + cmd
    proc = subprocess.run(
        cmd, env=agent_env(sink_url, **env), capture_output=True, text=True, timeout=timeout
    )
    assert proc.returncode == 0, "app failed:\nSTDOUT:\n%s\nSTDERR:\n%s" % (proc.stdout, proc.stderr)
    lines = [ln for ln in proc.stdout.splitlines() if ln.strip()]
    result = json.loads(lines[-1]) if lines else None
    return result, proc
