"""The secret key of the server processes: from the environment in production, kept in the var folder for
the demo and development.

Every web worker and the task worker must share one key: a login, a signed complaint ticket or a citizen's
one-time code (derived from the key by the web process, sent by the task worker) made by one process is
checked by another. A random key per process breaks them all, silently, and ends every session at a restart.
"""

import secrets
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

SECRET_KEY_MISSING = (
    "VAXREG_SECRET_KEY chưa được đặt. Ở chế độ vận hành (không có VAXREG_DEBUG=1), máy chủ web và tiến trình "
    "nền không khởi động với một khóa ngẫu nhiên cho mỗi tiến trình. Hãy đặt VAXREG_SECRET_KEY là một chuỗi "
    "ngẫu nhiên dài, giống nhau cho mọi tiến trình web và worker, ví dụ khóa do lệnh sau in ra:\n"
    "VAXREG_SECRET_KEY is not set. In production (without VAXREG_DEBUG=1) the web server and the task worker "
    "do not start with a random key per process. Set VAXREG_SECRET_KEY to a long random string, the same "
    "for every web and worker process, e.g. the one this prints:\n"
    "    python3 -c 'import secrets; print(secrets.token_urlsafe(50))'"
)


def secret_key_require() -> None:
    """Refuse to serve in production without ``VAXREG_SECRET_KEY``."""
    if settings.VAXREG_PRODUCTION and not settings.VAXREG_SECRET_KEY_SET:
        raise ImproperlyConfigured(SECRET_KEY_MISSING)


def secret_key_kept(var_dir: Path) -> str:
    """The key kept in ``var_dir/secret_key`` (made on first use, readable by its owner only): the demo's
    and a development server's, so that their sessions survive a restart. Never used in production."""
    key_file = Path(var_dir) / "secret_key"
    if not key_file.exists():
        key_file.parent.mkdir(parents=True, exist_ok=True)
        key_file.touch(mode=0o600)
        key_file.write_text(secrets.token_urlsafe(50))
    return key_file.read_text().strip()
