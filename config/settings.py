"""The settings of the mode the environment asks for (config/env.py): the test suite's when VAXREG_TESTING
is set (the processes the tests start), the shared ones for development (VAXREG_DEBUG=1), production's
otherwise. ``config.django.test`` is the test suite's own module (pyproject.toml)."""

from config.env import ENV as _ENV

if _ENV.testing:
    from config.django.test import *  # noqa: F403
elif _ENV.debug:
    from config.django.base import *  # noqa: F403
else:
    from config.django.production import *  # noqa: F403
