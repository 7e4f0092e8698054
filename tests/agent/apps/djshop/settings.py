import os

SECRET_KEY = "agent-tests-only"
DEBUG = False
ALLOWED_HOSTS = ["*"]
ROOT_URLCONF = "djshop.urls"
INSTALLED_APPS = ["django.contrib.contenttypes", "djshop"]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
]
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("DJSHOP_DB", "/tmp/djshop.sqlite3"),
    }
}
if os.environ.get("DJSHOP_PG"):
    DATABASES["default"] = {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": os.environ["DJSHOP_PG"],
        "USER": "postgres",
        "HOST": "127.0.0.1",
        "PORT": "5432",
    }
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
    }
]
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
LOGGING_CONFIG = None
if os.environ.get("DJSHOP_PG_POOL"):  # Django's psycopg pool (Django 5.1+)
    DATABASES["default"]["OPTIONS"] = {"pool": {"min_size": 1, "max_size": 4}}
