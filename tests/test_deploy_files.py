"""What the deploy files promise: an image without the working tree's secrets and caches,
and pods that run locked down, reaching only what they need."""

import fnmatch
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from django.conf import settings

from tests.servers import free_port

ROOT = Path(__file__).resolve().parents[1]
K8S = ROOT / "deploy" / "k8s"


def _ignored(path, patterns):
    """Whether the build context leaves ``path`` out, by .dockerignore's rules (the subset used)."""
    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]  # a directory takes its contents
    for pattern in patterns:
        if pattern.startswith("**/"):
            tail = pattern[3:]
            candidates = ["/".join(parts[i : j + 1]) for i in range(len(parts)) for j in range(i, len(parts))]
            if any(fnmatch.fnmatchcase(c, tail) for c in candidates):
                return True
        elif any(fnmatch.fnmatchcase(p, pattern) for p in prefixes):
            return True
    return False


@pytest.fixture(scope="module")
def dockerignore():
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


@pytest.mark.parametrize(
    "path",
    [
        ".git/HEAD",
        ".venv/bin/python",
        "agent/.venv/lib/x.py",
        ".env",
        ".env.production",
        "deploy/prod.env",
        "frontend/node_modules/uplot/package.json",
        "frontend/staticfiles/pulse/css/pulse.css",
        "tenants/__pycache__/models.cpython-311.pyc",
        ".pytest_cache/v/cache/nodeids",
        ".mypy_cache/3.11/x.json",
        ".ruff_cache/0.14/x",
        ".hypothesis/examples/x",
        "test-artifacts/FAILED-x.png",
        "agent/pulse_agent.egg-info/PKG-INFO",
    ],
)
def test_the_image_leaves_out_repositories_environments_secrets_and_caches(dockerignore, path):
    assert _ignored(path, dockerignore)


@pytest.mark.parametrize(
    "path",
    ["manage.py", "requirements.txt", "pulse/settings.py", "agent/pyproject.toml", "frontend/package.json",
     "frontend/static/pulse/js/pulse.js", "deploy/Dockerfile", "tenants/migrations/0001_initial.py"],
)
def test_the_image_keeps_what_it_runs(dockerignore, path):
    assert not _ignored(path, dockerignore)


def _documents():
    resources = yaml.safe_load((K8S / "kustomization.yaml").read_text())["resources"]
    for name in resources:
        yield from (d for d in yaml.safe_load_all((K8S / name).read_text()) if d)


def _pods():
    for doc in _documents():
        if doc["kind"] in ("Deployment", "Job"):
            yield doc["metadata"]["name"], doc["spec"]["template"]


def test_there_are_pods_to_check():
    assert {name for name, _ in _pods()} == {"pulse-web", "pulse-ingest", "pulse-worker", "pulse-delivery", "pulse-beat",
                                             "pulse-migrate", "pulse-redis-cache"}


@pytest.mark.parametrize("name, template", list(_pods()))
def test_every_pod_runs_unprivileged_on_a_read_only_root(name, template):
    spec = template["spec"]
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["runAsUser"] != 0
    assert spec["automountServiceAccountToken"] is False
    assert template["metadata"]["labels"]["app"] == "pulse"  # so the network policies select it
    empty_dirs = {v["name"] for v in spec.get("volumes", []) if "emptyDir" in v}
    for container in spec["containers"]:
        context = container["securityContext"]
        assert context["allowPrivilegeEscalation"] is False
        assert context["readOnlyRootFilesystem"] is True
        assert context["capabilities"]["drop"] == ["ALL"]
        mounts = {m["mountPath"]: m["name"] for m in container.get("volumeMounts", [])}
        assert mounts.get("/tmp") in empty_dirs  # Python's and Celery's temporary files
        assert set(mounts.values()) <= empty_dirs


def test_network_policies_deny_by_default_and_never_reach_link_local():
    policies = [d for d in _documents() if d["kind"] == "NetworkPolicy"]
    assert any(
        p["spec"]["podSelector"] == {"matchLabels": {"app": "pulse"}}
        and set(p["spec"]["policyTypes"]) == {"Ingress", "Egress"}
        and not p["spec"].get("ingress")
        and not p["spec"].get("egress")
        for p in policies
    )
    ingress = [rule for p in policies for rule in p["spec"].get("ingress", [])]
    assert ingress and all(rule.get("from") for rule in ingress)  # never from anywhere
    for policy in policies:
        for rule in policy["spec"].get("egress", []):
            for peer in rule.get("to", []):
                block = peer.get("ipBlock")
                if block and block["cidr"] in ("0.0.0.0/0", "::/0"):
                    assert {"169.254.0.0/16", "fe80::/10"} & set(block.get("except", []))


# --- which worker consumes which Celery queue -----------------------------------------------


def _queues(argv):
    """The queues a ``celery worker`` command line consumes (Celery's default without -Q)."""
    if "-Q" not in argv:
        return {"celery"}
    return set(argv[argv.index("-Q") + 1].split(","))


def _procfile_workers(path):
    for line in (ROOT / path).read_text().splitlines():
        name, _, command = line.partition(":")
        argv = command.split()
        if "worker" in argv and "celery" in argv:
            env = dict(word.split("=", 1) for word in argv[: argv.index("celery")])
            yield name, _queues(argv), env


def _compose_workers():
    services = yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text())["services"]
    for name, service in services.items():
        argv = service.get("command") or []
        if "worker" in argv:
            yield name, _queues(argv), service.get("environment", {})


def _k8s_workers():
    for name, template in _pods():
        for container in template["spec"]["containers"]:
            argv = container.get("command") or []
            if "worker" in argv:
                yield name, _queues(argv), {e["name"]: e["value"] for e in container.get("env", [])}


def _routed_queues():
    from django.conf import settings

    return {"celery"} | {route["queue"] for route in settings.CELERY_TASK_ROUTES.values()}


@pytest.mark.parametrize("workers", [_procfile_workers("deploy/Procfile"), _compose_workers(), _k8s_workers()],
                         ids=["Procfile", "compose", "k8s"])
def test_production_runs_deliveries_in_a_worker_of_their_own(workers):
    workers = list(workers)
    assert set().union(*(queues for _, queues, _ in workers)) >= _routed_queues()
    delivery = [(queues, env) for _, queues, env in workers if "alerts.delivery" in queues]
    assert delivery and all(queues == {"alerts.delivery"} and env.get("INGEST_CONSUMERS") == "0" for queues, env in delivery)


@pytest.mark.parametrize("path", ["deploy/local/Procfile", "deploy/demo/Procfile"])
def test_one_development_worker_consumes_every_queue(path):
    (_, queues, _), = _procfile_workers(path)
    assert queues >= _routed_queues()


def _redis_commands():
    for doc in _documents():
        if doc["kind"] in ("Deployment", "StatefulSet") and doc["metadata"]["name"].startswith("pulse-redis-"):
            (container,) = doc["spec"]["template"]["spec"]["containers"]
            yield doc["metadata"]["name"], container["command"]
    services = yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text())["services"]
    for name, service in services.items():
        if name.startswith("redis-"):
            yield name, service["command"]


def _option(argv, name):
    return argv[argv.index(name) + 1] if name in argv else None


def test_the_queue_redis_is_durable_and_the_cache_redis_may_evict():
    commands = dict(_redis_commands())
    assert set(commands) == {"pulse-redis-queue", "pulse-redis-cache", "redis-queue", "redis-cache"}
    for name, argv in commands.items():
        if name.endswith("queue"):
            assert (_option(argv, "--appendonly"), _option(argv, "--maxmemory-policy")) == ("yes", "noeviction")
        else:
            assert _option(argv, "--maxmemory-policy") == "allkeys-lru" and _option(argv, "--maxmemory")


def test_each_redis_role_points_at_its_own_redis():
    config = next(d for d in _documents() if d["kind"] == "ConfigMap")["data"]
    assert "pulse-redis-queue" in config["QUEUE_REDIS_URL"] and "pulse-redis-cache" in config["CACHE_REDIS_URL"]
    compose = yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text())["x-env"]
    assert "redis-queue" in compose["QUEUE_REDIS_URL"] and "redis-cache" in compose["CACHE_REDIS_URL"]


def test_ensure_services_checks_every_redis_role_configured():
    """A Redis role set apart from REDIS_URL is checked too, and named when it does not answer."""
    env = {**os.environ, "DATABASE_URL": os.environ.get("DATABASE_URL", ""), "REDIS_URL": settings.REDIS_URL,
           "CACHE_REDIS_URL": f"redis://127.0.0.2:{free_port()}/0"}  # not local to it: reported, not started
    out = subprocess.run([sys.executable, "deploy/local/ensure_services.py"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 1
    assert "CACHE_REDIS_URL" in out.stderr and "127.0.0.2" in out.stderr


# --- the roles, as kustomize renders them and compose runs them -----------------------------


@pytest.fixture(scope="module")
def rendered():
    """What ``kubectl apply -k deploy/k8s`` would send, rendered offline by kubectl's kustomize."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed (it renders the kustomization offline)")
    out = subprocess.run([kubectl, "kustomize", str(K8S)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return {(d["kind"], d["metadata"]["name"]): d for d in yaml.safe_load_all(out.stdout) if d}


def _role(doc):
    (container,) = doc["spec"]["template"]["spec"]["containers"]
    return {e["name"]: e["value"] for e in container.get("env", [])}.get("PULSE_ROLE", "all")


def test_kustomize_renders_every_role_from_the_one_image(rendered):
    roles = {name: _role(doc) for (kind, name), doc in rendered.items() if kind == "Deployment" and name != "pulse-redis-cache"}
    assert roles == {"pulse-web": "ui", "pulse-ingest": "ingest", "pulse-worker": "all", "pulse-delivery": "all",
                     "pulse-beat": "all"}
    assert rendered["Deployment", "pulse-beat"]["spec"]["replicas"] == 2  # RedBeat's lock lets one send
    assert ("Job", "pulse-migrate") in rendered and ("StatefulSet", "pulse-redis-queue") in rendered
    images = {c["image"] for (kind, _), doc in rendered.items() if kind in ("Deployment", "Job")
              for c in doc["spec"]["template"]["spec"]["containers"] if not c["image"].startswith("redis")}
    assert images == {"registry.example.com/pulse:latest"}


def test_the_ingress_sends_agents_to_the_ingest_nodes_and_people_to_the_ui(rendered):
    (rule,) = rendered["Ingress", "pulse"]["spec"]["rules"]
    backends = {p["path"]: p["backend"]["service"]["name"] for p in rule["http"]["paths"]}
    assert backends == {"/api/v1/ingest": "pulse-ingest", "/api/v1/deployments": "pulse-ingest", "/": "pulse-web"}
    for name in set(backends.values()):
        assert rendered["Service", name]["spec"]["selector"]["role"] == name.removeprefix("pulse-")
    allowed = rendered["NetworkPolicy", "pulse-web-from-ingress"]["spec"]["podSelector"]["matchExpressions"]
    assert allowed == [{"key": "role", "operator": "In", "values": ["web", "ingest"]}]


@pytest.fixture(scope="module")
def compose():
    return yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text())


def test_compose_runs_every_role_and_names_its_images_by_variables_with_public_defaults(compose):
    services = compose["services"]
    assert services["postgres"]["image"] == "${POSTGRES_IMAGE:-postgres:15}"
    assert services["redis-queue"]["image"] == services["redis-cache"]["image"] == "${REDIS_IMAGE:-redis:7}"
    pulse = {name for name, s in services.items() if s.get("image") == "${PULSE_IMAGE:-pulse:latest}"}
    assert pulse == {"migrate", "web", "ingest", "worker", "delivery", "beat"}
    assert services["ingest"]["environment"]["PULSE_ROLE"] == "ingest"
    assert "PULSE_ROLE" not in services["web"]["environment"]  # all: PUBLIC_URL alone serves agents too
    for name in pulse - {"migrate"}:  # migrations run once, before any of them starts
        assert services[name]["depends_on"] == {"migrate": {"condition": "service_completed_successfully"}}


def _dockerfile(path):
    """Instructions of a Dockerfile, continuation lines joined."""
    return [line for line in (ROOT / path).read_text().replace("\\\n", " ").splitlines()
            if line.strip() and not line.startswith("#")]


def test_the_image_builds_on_public_bases_by_default_and_never_stores_the_build_ca():
    lines = _dockerfile("deploy/Dockerfile")
    assert "ARG PYTHON_IMAGE=python:3.11-slim-bookworm" in lines and "ARG NODE_IMAGE=node:20-bookworm-slim" in lines
    downloads = [line for line in lines if re.search(r"\b(pip|npm) (install|ci)\b", line)]
    assert downloads and all("--mount=type=secret,id=ca" in line for line in downloads)
    assert not any(re.search(r"^(COPY|ADD)\b.*(\.crt|\.pem|certs)", line) for line in lines)
    # The locked dependencies are installed before the source is copied: a code change keeps that layer.
    assert lines.index("COPY requirements.lock ./") < lines.index("COPY . .")
    assert max(lines.index(line) for line in downloads) < lines.index("COPY . .")


@pytest.mark.parametrize("name", ["node", "postgres", "redis"])
def test_the_local_base_images_build_on_the_debian_base(name):
    lines = _dockerfile(f"deploy/images/{name}.Dockerfile")
    assert lines[:2] == ["ARG BASE_IMAGE=debian:bookworm-slim", "FROM ${BASE_IMAGE}"]
