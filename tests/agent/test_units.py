"""Pure pieces of the agent, in-process (nothing here starts the agent)."""


from pulse_agent import config
from pulse_agent.agent import split_payload
from pulse_agent.naming import callable_name, url_name


def test_url_names_drop_ids():
    assert url_name("GET", "/items/42/") == "GET /items/{id}/"
    assert url_name("POST", "/u/6f1c2b3a-1d2e-4f50-8a9b-0c1d2e3f4a5b") == "POST /u/{id}"
    assert url_name("GET", "/route7") == "GET /route7"
    assert url_name(None, "") == "GET /"


def test_callable_names_keep_the_module_unless_it_is_the_script():
    def view():
        pass

    assert callable_name(view) == __name__ + ".test_callable_names_keep_the_module_unless_it_is_the_script.<locals>.view"
    view.__module__ = "__main__"
    assert callable_name(view) == "test_callable_names_keep_the_module_unless_it_is_the_script.<locals>.view"
    assert callable_name(url_name) == "pulse_agent.naming.url_name"


def test_settings_come_from_env_with_defaults():
    s = config.load(environ={"PULSE_HARVEST_INTERVAL": "5", "PULSE_APP_NAME": "Shop (prod)"})
    assert s.harvest_interval == 5.0
    assert s.app_name == "Shop (prod)"
    assert s.endpoint == "http://127.0.0.1:8000"
    assert s.enabled is True
    assert s.problems == []


def test_bad_values_are_reported_and_replaced_by_defaults():
    s = config.load(environ={"PULSE_HARVEST_INTERVAL": "often", "PULSE_ENABLED": "maybe",
                             "PULSE_ENDPOINT": "ftp://x", "PULSE_RECORD_SQL": "everything"})
    assert s.harvest_interval == 2.0 and s.enabled is True
    assert s.endpoint == "http://127.0.0.1:8000" and s.record_sql == "obfuscated"
    text = "\n".join(s.problems)
    for name in ("harvest_interval", "enabled", "endpoint", "record_sql"):
        assert name in text


def test_config_file_is_read_and_env_wins(tmp_path):
    f = tmp_path / "pulse.ini"
    f.write_text("[pulse]\napp_name = from-file\nharvest_interval = 3\nunknown = 1\n")
    s = config.load(environ={"PULSE_CONFIG_FILE": str(f), "PULSE_HARVEST_INTERVAL": "4"})
    assert s.app_name == "from-file"
    assert s.harvest_interval == 4.0
    assert any("unknown" in p for p in s.problems)


def test_disabled_by_env():
    assert config.load(environ={"PULSE_ENABLED": "false"}).enabled is False


def test_key_format_check():
    assert config.key_problem("") is not None
    assert config.key_problem("pulse_ik_short") is not None
    assert config.key_problem("pulse_ik_" + "a" * 40) is None


def test_a_413_payload_splits_into_smaller_valid_halves():
    payload = {
        "v": 1, "batch_id": "a" * 32, "app": "x", "sent_at": 1.0, "apdex_t": 0.5,
        "metrics": [{"name": str(i)} for i in range(5)], "events": [{"e": i} for i in range(4)],
        "events_seen": 10, "traces": [], "errors": [{"x": 1}], "instance": {"pid": 1},
    }
    a, b = split_payload(payload)
    assert len(a["metrics"]) + len(b["metrics"]) == 5
    assert a["batch_id"] != b["batch_id"] != payload["batch_id"]
    assert a["events_seen"] + b["events_seen"] == 10
    assert a["instance"] == {"pid": 1} and b["instance"] is None
    assert split_payload(dict(payload, metrics=[{"n": 1}], events=[], errors=[], events_seen=0)) is None
