"""Settings for the test suite: the same as production but with fast hashing and tasks run at once."""

import os

os.environ.setdefault("VAXREG_TESTING", "1")

from config.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
