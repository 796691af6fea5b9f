"""The environment is read in one place (config/env.py), typed, and the README lists what it reads."""

import re
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from config.env import Env, env_read, env_table

PROJECT_DIR = Path(__file__).resolve().parents[3]
ENVIRON_READ = re.compile(r"\bos\.environ\b|\bgetenv\b|\bfrom os import [^\n]*\benviron\b")
# Files outside config/ that may still read the environment, each with its reason. Keep it empty: a module
# that needs a variable reads the setting made from it (or config.env before Django is configured).
ALLOWED: dict[str, str] = {}


def _python_files() -> list[Path]:
    skipped = {".venv", "var", "config", "node_modules", ".git"}
    return [
        path
        for path in PROJECT_DIR.rglob("*.py")
        if not skipped & set(path.relative_to(PROJECT_DIR).parts[:1]) and "migrations" not in path.parts
    ]


def test_no_module_outside_config_reads_the_environment() -> None:
    files = _python_files()
    readers = sorted(
        f"{path.relative_to(PROJECT_DIR)}:{number}: {line.strip()}"
        for path in files
        if str(path.relative_to(PROJECT_DIR)) not in ALLOWED
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if ENVIRON_READ.search(line)
    )

    assert len(files) > 100  # the walk found the tree
    assert readers == [], "read the settings (or config.env) instead:\n" + "\n".join(readers)


def test_the_check_sees_a_read_of_the_environment() -> None:
    # (Written in pieces, so that this file does not read as a reader itself.)
    for line in (
        "url = os." + 'environ.get("X")',
        "os.get" + 'env("X")',
        "from os import en" + "viron, path",
    ):
        assert ENVIRON_READ.search(line), line
    assert not ENVIRON_READ.search("settings.VAXREG_ENVIRONMENT_NAME")


def test_variables_are_read_with_their_types_and_defaults() -> None:
    env = env_read(
        {
            "VAXREG_SESSION_IDLE_MINUTES": "30",
            "VAXREG_ALLOWED_HOSTS": " vaxreg.example.vn, ,localhost ",
            "VAXREG_IMPORT_DEFER_INDEXES": "0",
            "VAXREG_SECOND_FACTOR": "yes",
            "VAXREG_INTAKE_CACHE_SECONDS": "2.5",
            "VAXREG_VAR_DIR": "/srv/vaxreg/../vaxreg/var",
            "OTHER": "ignored",
        }
    )

    assert env.session_idle_minutes == 30
    assert env.allowed_hosts == ("vaxreg.example.vn", "localhost")
    assert env.import_defer_indexes is False
    assert env.second_factor is True
    assert env.intake_cache_seconds == 2.5
    assert env.var_dir == Path("/srv/vaxreg/var")
    assert env.import_max_row_chars == 1_000_000  # unset: its default
    assert env.tasks_immediate is None  # unset and no default: each mode decides
    assert env.production
    assert not env_read({"VAXREG_DEBUG": "1"}).production


def test_a_flag_on_by_default_is_off_only_when_said_so() -> None:
    assert env_read({"VAXREG_IMPORT_DEFER_INDEXES": "yes"}).import_defer_indexes is True
    assert env_read({"VAXREG_IMPORT_DEFER_INDEXES": "off"}).import_defer_indexes is False
    assert env_read({"VAXREG_HTTPS": "maybe"}).https is False


def test_a_number_that_is_not_one_stops_the_start_naming_the_variable() -> None:
    with pytest.raises(ImproperlyConfigured, match="VAXREG_SESSION_IDLE_MINUTES: 'eight hours'"):
        env_read({"VAXREG_SESSION_IDLE_MINUTES": "eight hours"})


def test_the_readme_lists_every_variable_as_config_env_defines_it() -> None:
    readme = (PROJECT_DIR / "README.md").read_text(encoding="utf-8")

    assert env_table() in readme, "paste the output of `uv run python -m config.env` into the README"
    assert len(env_table().splitlines()) == 2 + len(Env.__dataclass_fields__)
