"""The Vietnamese catalogue holds every interface string, with no guess left in it, and the committed .mo
is the compiled .po: a string added to a template or to Python without its translation fails here."""

import gettext
import shutil
import subprocess
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command

CATALOGUE = Path(settings.BASE_DIR) / "vaxreg" / "locale" / "vi" / "LC_MESSAGES"
# The same places `makemessages` is told to skip in the header of django.po.
IGNORED = ["var", ".venv"]


def _gettext_tool(name: str) -> str:
    path = shutil.which(name)
    assert path, f"{name} is needed to check the catalogue (apt-get install gettext)"
    return path


@pytest.fixture(scope="module")
def extracted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every msgid the templates and the Python code use, as `makemessages` finds them, untranslated.

    It runs on a copy of the sources with an empty catalogue (it writes into any `locale` folder it meets).
    """
    _gettext_tool("xgettext")
    root = tmp_path_factory.mktemp("sources")
    skip = shutil.ignore_patterns("locale", "__pycache__", *IGNORED)
    for folder in ("config", "vaxreg"):
        shutil.copytree(Path(settings.BASE_DIR) / folder, root / folder, ignore=skip)
    locale = root / "vaxreg" / "locale"
    locale.mkdir()
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)
        patch.setattr(settings, "LOCALE_PATHS", [str(locale)])
        call_command("makemessages", locale=["vi"], ignore_patterns=IGNORED, no_obsolete=True, verbosity=0)
    return locale / "vi" / "LC_MESSAGES" / "django.po"


def test_every_interface_string_has_its_vietnamese_translation(extracted: Path) -> None:
    # msgcmp counts an untranslated or fuzzy entry of the catalogue as missing.
    completed = subprocess.run(
        [_gettext_tool("msgcmp"), str(CATALOGUE / "django.po"), str(extracted)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0, (
        "strings missing from vaxreg/locale/vi/LC_MESSAGES/django.po (run makemessages as its header says, "
        "translate, then msgfmt):\n" + completed.stderr
    )


def test_the_catalogue_has_no_fuzzy_or_empty_translation() -> None:
    completed = subprocess.run(
        [_gettext_tool("msgattrib"), "--only-fuzzy", "--no-wrap", str(CATALOGUE / "django.po")],
        capture_output=True,
        text=True,
        check=True,
    )
    assert completed.stdout == ""
    completed = subprocess.run(
        [_gettext_tool("msgattrib"), "--untranslated", "--no-wrap", str(CATALOGUE / "django.po")],
        capture_output=True,
        text=True,
        check=True,
    )
    assert completed.stdout == ""


def test_the_committed_mo_is_the_compiled_po(tmp_path: Path) -> None:
    compiled = tmp_path / "django.mo"
    subprocess.run(
        [_gettext_tool("msgfmt"), "--check", "-o", str(compiled), str(CATALOGUE / "django.po")], check=True
    )
    with compiled.open("rb") as fresh, (CATALOGUE / "django.mo").open("rb") as committed:
        assert gettext.GNUTranslations(committed)._catalog == gettext.GNUTranslations(fresh)._catalog  # type: ignore[attr-defined]
