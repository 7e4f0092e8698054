import pytest
from django.core.cache import cache

from tenants.keys import clear_key_cache


@pytest.fixture(autouse=True)
def clean_caches():
    # Login throttle counters live in the Redis cache, resolved keys in process memory.
    cache.clear()
    clear_key_cache()
    yield
    clear_key_cache()
