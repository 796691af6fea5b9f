"""Production: every run that is neither a development one (VAXREG_DEBUG=1) nor the test suite.

The web server and the task worker refuse to start here without VAXREG_SECRET_KEY (vaxreg.web.secret_key):
each would draw its own random key, and a login or a citizen's one-time code made by one process would not
be recognised by the next. The demo keeps its key in the var folder. A one-shot command (migrate, import, a
benchmark) signs nothing that outlives it, so it may run with a random key of its own.
"""

from config.django.base import *  # noqa: F403
from config.env import ENV as _ENV

VAXREG_PRODUCTION = True

# VAXREG_HTTPS=1 says the site is reached over HTTPS (directly or through a TLS proxy). It then redirects
# plain HTTP to HTTPS and sends HSTS for VAXREG_HSTS_SECONDS, subdomains included. /healthz stays answerable
# over HTTP for a load balancer's checks inside the network (SECURE_REDIRECT_EXEMPT).
VAXREG_HTTPS = _ENV.https
SECURE_SSL_REDIRECT = VAXREG_HTTPS
SECURE_HSTS_SECONDS = _ENV.hsts_seconds if VAXREG_HTTPS else 0
