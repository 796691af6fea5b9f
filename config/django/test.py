"""The test suite's settings: the shared ones as they are for the tests (tasks run at once unless
VAXREG_TASKS_IMMEDIATE=0, messages kept in memory, no cache of the complaint intake, whose facilities come and
go with each test: see config/django/base.py), with fast password hashing."""

import os

# The processes the tests start (a server, a worker, a killed import) are tests too (config.settings picks
# this module for them); the suite itself is a test whatever its environment says.
os.environ.setdefault("VAXREG_TESTING", "1")
# A parallel run (pytest-xdist, `bash scripts/test`) gives each worker process its own var folder, as it gets
# its own test database: the uploads, an import's progress file and a file database's locks are named by
# batch or by name, and two workers' batch 1 must not meet. The processes a test starts inherit it.
if os.environ.get("PYTEST_XDIST_WORKER") and "VAXREG_VAR_DIR" not in os.environ:
    os.environ["VAXREG_VAR_DIR"] = os.path.abspath(
        os.path.join("var", f"test-{os.environ['PYTEST_XDIST_WORKER']}")
    )

import dataclasses  # noqa: E402

from config import env  # noqa: E402

env.ENV = dataclasses.replace(env.ENV, testing=True)

from config.django.base import *  # noqa: E402,F403

_ENV = env.ENV
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# The Chromium the browser tests drive (conftest.py).
VAXREG_CHROMIUM = _ENV.chromium

# The test process's name in a parallel run ("gw0"...; "main" alone): what the tests that make a database of
# their own beside the test database name it by, so that two processes never drop each other's.
VAXREG_TEST_PROCESS = os.environ.get("PYTEST_XDIST_WORKER") or "main"
