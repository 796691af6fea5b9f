from django.core.wsgi import get_wsgi_application

from config.env import settings_module_default

settings_module_default()
application = get_wsgi_application()

# Any WSGI server (gunicorn through `vaxreg serve` or on its own) refuses to start in production without
# VAXREG_SECRET_KEY rather than give each worker process a random key of its own.
from vaxreg.web.secret_key import secret_key_require  # noqa: E402  (needs the settings loaded above)

secret_key_require()
