"""The lock files name every pinned dependency at its pinned version, with hashes."""

from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent


def pins(name):
    """{package: version} of the ``name==version`` lines in a requirements file (``-r`` lines skipped)."""
    found = {}
    for line in (ROOT / name).read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        req = Requirement(line)
        (spec,) = req.specifier
        assert spec.operator == "==", f"{name}: {line} is not pinned with =="
        found[canonicalize_name(req.name)] = spec.version
    return found


def locked(name):
    """{package: (versions, hash count)} of a lock file written by ``make lock``."""
    found = {}
    current = None
    for line in (ROOT / name).read_text().splitlines():
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        if not line.startswith(" "):
            req = Requirement(text.rstrip("\\ ").strip())
            (spec,) = req.specifier
            current = canonicalize_name(req.name)
            versions, hashes = found.get(current, (set(), 0))
            found[current] = (versions | {spec.version}, hashes)
        elif text.startswith("--hash=sha256:"):
            versions, hashes = found[current]
            found[current] = (versions, hashes + 1)
    return found


def test_every_locked_package_has_hashes():
    for lock in ("requirements.lock", "requirements-dev.lock"):
        for package, (_, hashes) in locked(lock).items():
            assert hashes, f"{lock}: {package} has no hash"


def test_locks_agree_with_the_pins():
    runtime, dev = locked("requirements.lock"), locked("requirements-dev.lock")
    for package, version in pins("requirements.txt").items():
        assert runtime.get(package, (set(),))[0] == {version}, f"requirements.lock: {package} is not {version}; run make lock"
    for package, version in {**pins("requirements.txt"), **pins("requirements-dev.txt")}.items():
        assert version in dev.get(package, (set(),))[0], f"requirements-dev.lock: {package} is not {version}; run make lock"


def test_the_development_lock_installs_the_runtime_versions():
    runtime, dev = locked("requirements.lock"), locked("requirements-dev.lock")
    for package, (versions, _) in runtime.items():
        assert dev[package][0] == versions, f"{package}: {sorted(versions)} at runtime, {sorted(dev[package][0])} in development"
