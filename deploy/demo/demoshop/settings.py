"""A tiny shop for `make demo`: a real Django app for the Pulse agent to watch (not part of Pulse)."""

import os

SECRET_KEY = "demo-shop-only-not-a-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = "demoshop.urls"
INSTALLED_APPS = ["demoshop"]
MIDDLEWARE = ["django.middleware.common.CommonMiddleware"]
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("DEMO_SHOP_DB", "/tmp/pulse-demo-shop.sqlite3"),
    }
}
TEMPLATES = [{"BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True}]
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
# Where the search view makes its outgoing HTTP call (an "external" segment in traces).
DEMO_UPSTREAM = os.environ.get("DEMO_UPSTREAM", "http://127.0.0.1:8000/healthz/live")
