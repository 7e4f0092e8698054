import pytest
from django.core.cache import cache

from tenants.keys import clear_key_cache


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    # Django's real PBKDF2 costs ~0.3 s a hash on purpose; tests of behaviour don't need it
    # (test_login checks that unknown and known e-mails cost the same number of hashes).
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def clean_caches():
    # Login throttle counters live in the Redis cache, resolved keys in process memory.
    cache.clear()
    clear_key_cache()
    yield
    clear_key_cache()
