import uuid

import pytest

from tenants.keys import clear_key_cache


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    # Django's real PBKDF2 costs ~0.3 s a hash on purpose; tests of behaviour don't need it
    # (test_login checks that unknown and known e-mails cost the same number of hashes).
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def clean_caches(settings):
    # Login throttle counters live in the Redis cache: a fresh key prefix per test isolates
    # them without flushing a Redis database other tests may be using. Resolved ingest
    # keys live in process memory.
    settings.CACHES = {"default": {**settings.CACHES["default"], "KEY_PREFIX": f"pulse-test-{uuid.uuid4().hex}"}}
    clear_key_cache()
    yield
    clear_key_cache()
