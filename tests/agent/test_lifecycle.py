"""Starting, disabling, import hooks, idempotent instrumentation and the CLI, each in
a fresh process so nothing leaks into the test runner."""

import os
import subprocess
import sys

from conftest import AGENT_DIR, APPS_DIR, KEY, agent_env


def py(code, sink_url, **env):
    proc = subprocess.run([sys.executable, "-c", code], env=agent_env(sink_url, **env),
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc


def test_instrumentation_applies_only_to_imported_libraries(sink):
    proc = py(
        "import sys, pulse_agent\n"
        "assert pulse_agent.init() is not None\n"
        "from pulse_agent.instrumentation import applied\n"
        "assert 'flask' not in sys.modules and 'requests' not in sys.modules, 'the agent imported a library'\n"
        "assert 'flask' not in applied\n"
        "import flask\n"
        "assert 'flask' in applied, applied\n"
        "import requests\n"
        "assert 'requests' in applied and 'urllib3' in applied\n"
        "print('ok')\n",
        sink.url,
    )
    assert proc.stdout.strip() == "ok"


def test_instrument_twice_is_harmless_and_uninstrument_restores(sink):
    py(
        "import flask, requests\n"
        "original = flask.Flask.wsgi_app\n"
        "import pulse_agent\n"
        "pulse_agent.init(); pulse_agent.init()\n"
        "from pulse_agent.instrumentation import flask as f, requests as r\n"
        "wrapped = flask.Flask.wsgi_app\n"
        "assert wrapped is not original and wrapped.__wrapped__ is original\n"
        "f.instrument(); f.instrument(); r.instrument()\n"
        "assert flask.Flask.wsgi_app is wrapped  # wrapped once\n"
        "f.uninstrument()\n"
        "assert flask.Flask.wsgi_app is original\n"
        "f.uninstrument()\n"
        "assert flask.Flask.wsgi_app is original\n"
        "f.instrument()\n"
        "assert flask.Flask.wsgi_app.__wrapped__ is original\n",
        sink.url,
    )


def test_unwrapping_leaves_another_tools_wrapper_and_ours_under_it_passes_through(sink):
    # Another tool wraps our wrapper with functools.wraps (copying its __dict__), as
    # Sentry's integrations do; then Pulse is uninstrumented and instrumented again.
    proc = py(
        "import functools, json, flask, pulse_agent\n"
        "pulse_agent.init()\n"
        "from pulse_agent.instrumentation import flask as f\n"
        "seen = []\n"
        "ours = flask.Flask.wsgi_app\n"
        "@functools.wraps(ours)\n"
        "def theirs(self, environ, start_response):\n"
        "    seen.append(environ['PATH_INFO'])\n"
        "    return ours(self, environ, start_response)\n"
        "flask.Flask.wsgi_app = theirs\n"
        "f.instrument()\n"
        "assert flask.Flask.wsgi_app is theirs and theirs.__wrapped__ is ours  # not wrapped twice\n"
        "app = flask.Flask('shop')\n"
        "def before(): return 'ok'\n"
        "def during(): return 'ok'\n"
        "def after(): return 'ok'\n"
        "for view in (before, during, after):\n"
        "    app.add_url_rule('/' + view.__name__, view.__name__, view)\n"
        "client = app.test_client()\n"
        "client.get('/before')\n"
        "f.uninstrument()\n"
        "assert flask.Flask.wsgi_app is theirs\n"
        "client.get('/during')\n"
        "f.instrument()\n"
        "assert flask.Flask.wsgi_app is theirs\n"
        "client.get('/after')\n"
        "print(json.dumps(seen))\n",
        sink.url,
    )
    assert proc.stdout.strip() == '["/before", "/during", "/after"]'  # their wrapper never left
    assert sink.wait_for(lambda s: s.count() == 2)
    assert sink.count("before") == 1 and sink.count("after") == 1
    assert sink.count() == 2  # nothing while uninstrumented
    assert sink.problems == []


def test_disabled_by_env_var_installs_nothing(sink):
    proc = py(
        "import sys, pulse_agent\n"
        "assert pulse_agent.init() is None\n"
        "import flask\n"
        "from pulse_agent.instrumentation import applied\n"
        "assert applied == {}, applied\n"
        "assert not hasattr(flask.Flask.wsgi_app, '__wrapped__')\n"
        "import threading\n"
        "assert not any(t.name == 'pulse-agent-harvest' for t in threading.enumerate())\n",
        sink.url, PULSE_ENABLED="false",
    )
    assert sink.posts == 0
    assert proc.stderr == ""


def test_the_hot_path_state_and_the_logger_import_nothing_else_of_the_agent(sink):
    proc = py("import sys, pulse_agent.state, pulse_agent.log\n"
              "print(sorted(m for m in sys.modules if m.startswith('pulse_agent')))\n", sink.url)
    assert proc.stdout.strip() == "['pulse_agent', 'pulse_agent.log', 'pulse_agent.state']"


def test_run_bootstraps_the_child_and_keeps_its_own_sitecustomize(sink, tmp_path):
    (tmp_path / "sitecustomize.py").write_text("import os\nos.environ['USER_SITECUSTOMIZE'] = 'ran'\n")
    script = tmp_path / "app.py"
    script.write_text(
        "import os, sys\n"
        "from pulse_agent.agent import get_agent\n"
        "print(get_agent() is not None, os.environ.get('USER_SITECUSTOMIZE'), sys.argv[1:])\n"
    )
    env = agent_env(sink.url)
    env["PYTHONPATH"] = os.pathsep.join([AGENT_DIR, str(tmp_path)])
    proc = subprocess.run(
        [sys.executable, "-m", "pulse_agent.cli", "run", "--", sys.executable, str(script), "a", "b"],
        env=env, capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "True ran ['a', 'b']"


def check(sink_url, **env):
    return subprocess.run([sys.executable, "-m", "pulse_agent.cli", "check"],
                          env=agent_env(sink_url, **env), capture_output=True, text=True, timeout=60)


def test_check_passes_against_a_working_endpoint(sink):
    proc = check(sink.url)
    assert proc.returncode == 0, proc.stdout
    assert "accepted a test payload" in proc.stdout
    assert sink.payloads and sink.problems == []


def test_check_says_exactly_what_is_wrong(sink):
    proc = check(sink.url, PULSE_INGEST_KEY="pulse_ik_" + "Z" * 40)
    assert proc.returncode == 1
    assert "HTTP 401" in proc.stdout and "does not know this ingest key" in proc.stdout

    proc = check(sink.url, PULSE_INGEST_KEY="")
    assert proc.returncode == 1 and "PULSE_INGEST_KEY is not set" in proc.stdout

    proc = check("http://127.0.0.1:9", PULSE_HARVEST_INTERVAL="never")
    assert proc.returncode == 1
    assert "harvest_interval" in proc.stdout
    assert "cannot reach the server" in proc.stdout and "ConnectionRefusedError" in proc.stdout


def test_sketch_import_has_no_side_effects():
    proc = subprocess.run(
        [sys.executable, "-c",
         "import sys, threading; import pulse_agent.sketch;"
         "assert threading.active_count() == 1;"
         "assert not any(type(f).__module__.startswith('pulse_agent') for f in sys.meta_path);"
         "print(sorted(m for m in sys.modules if m.startswith('pulse_agent')))"],
        env=dict(os.environ, PYTHONPATH=AGENT_DIR), capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "['pulse_agent', 'pulse_agent.sketch']"
    assert KEY  # the sink's key is what agent_env passes


def _python39():
    import glob
    import shutil

    found = sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.9*/bin/python")))
    return found[0] if found else shutil.which("python3.9")


def test_the_agent_runs_on_python_3_9(sink):
    import pytest

    python39 = _python39()
    if not python39:
        pytest.skip("no Python 3.9 on this machine")
    env = agent_env(sink.url, DOWNSTREAM=sink.url)
    proc = subprocess.run(
        [python39, "-m", "pulse_agent.cli", "run", "--", python39, os.path.join(APPS_DIR, "generic_driver.py")],
        env=env, capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert sink.wait_for(lambda s: s.count("GET /orders/{id}") == 3)
    assert sink.payloads[-1]["instance"]["runtime_version"].startswith("3.9")
    assert sink.problems == []
