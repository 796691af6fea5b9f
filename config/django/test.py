"""The test suite's settings: the shared ones as they are for the tests (tasks run at once unless
VAXREG_TASKS_IMMEDIATE=0, messages kept in memory, no cache of the complaint intake, whose facilities come and
go with each test: see config/django/base.py), with fast password hashing."""

import os

# The processes the tests start (a server, a worker, a killed import) are tests too (config.settings picks
# this module for them); the suite itself is a test whatever its environment says.
os.environ.setdefault("VAXREG_TESTING", "1")

import dataclasses  # noqa: E402

from config import env  # noqa: E402

env.ENV = dataclasses.replace(env.ENV, testing=True)

from config.django.base import *  # noqa: E402,F403

_ENV = env.ENV
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# The Chromium the browser tests drive (conftest.py).
VAXREG_CHROMIUM = _ENV.chromium
