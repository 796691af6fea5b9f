"""No interface words written as a Vietnamese and English pair in Python: each goes through gettext (an
English msgid, its Vietnamese in the catalogue), and where both languages show at once (public and police
pages, commands, citizens' messages) through ``core.i18n.both_languages`` / ``in_both_languages``.

The scan reads the source (not the tests, not the migrations) for a string literal "tiếng Việt / English"
and for a tuple of two literals ("tiếng Việt", "English"); docstrings and comments are not read."""

import ast
import re
from pathlib import Path

from django.conf import settings

VAXREG = Path(settings.BASE_DIR) / "vaxreg"
VIETNAMESE = "àáảãạăằắẳẵặâầấẩẫậèéẻẽẹêềếểễệìíỉĩịòóỏõọôồốổỗộơờớởỡợùúủũụưừứửữựỳýỷỹỵđ"
# A Vietnamese word before " / ", English (no Vietnamese letter up to the next "/") after it: "Đã tạo / Created".
BEFORE_SLASH = re.compile(rf"[{VIETNAMESE}][^/]* / ([^/]*)", re.IGNORECASE)
HAS_VIETNAMESE = re.compile(f"[{VIETNAMESE}]", re.IGNORECASE)


def _is_pair(text: str) -> bool:
    return any(
        re.match(r"[A-Za-z0-9({]", after)
        and not HAS_VIETNAMESE.search(after)
        and re.search("[a-z]{2}", after)
        for after in BEFORE_SLASH.findall(text)
    )


# Literal pairs that stay, each with its reason: (file under vaxreg/, the start of the literal; "" for the
# whole file).
REFUSAL_PROTOCOL = "a refusal's own Vietnamese and English messages (message_vi, message_en: core.refusals)"
FILE_HEADERS = "headers and notes of the files handed out, read back by either header (the table spec)"
ALLOWED: dict[tuple[str, str], str] = {
    ("accounts/permissions.py", ""): REFUSAL_PROTOCOL + ", one per capability",
    ("accounts/logins.py", ""): REFUSAL_PROTOCOL,
    ("core/dates.py", ""): REFUSAL_PROTOCOL + ": the date parser's errors, with the value apart",
    ("quality/rules.py", ""): "a rule's message template in Vietnamese and English (CONTRIBUTING: a rule)",
    ("core/tables.py", ""): FILE_HEADERS,
    ("verification/police.py", ""): FILE_HEADERS + ": the police result file and its report",
    ("verification/web_selectors.py", ""): FILE_HEADERS + ": the police export's columns",
    (
        "certificates/pdf.py",
        "",
    ): "the printed certificate is one bilingual document, like the EU DCC it carries",
    (
        "certificates/keys.py",
        "",
    ): "errors of the signing-key configuration, for operators (not yet converted)",
    ("certificates/dcc.py", ""): "a programming error of the DCC builder, for developers (not yet converted)",
    (
        "synth/writers.py",
        "",
    ): "a programming error of the synthetic writer, for developers (not yet converted)",
    ("certificates/apps.py", ""): "an app's name in Django's registry; no page shows it",
    ("citizens/apps.py", ""): "an app's name in Django's registry; no page shows it",
    ("linkage/apps.py", ""): "an app's name in Django's registry; no page shows it",
    ("dashboards/apps.py", ""): "an app's name in Django's registry; no page shows it",
    ("web/management/commands/demo.py", "Đã rà soát"): "a facility head's own note, stored by the demo",
    ("web/management/commands/demo.py", "Tôi đã tiêm"): "a citizen's own words in the demo's complaints",
    ("web/management/commands/demo.py", "Ngày sinh trên"): "a citizen's own words in the demo's complaints",
}


def _literal_text(node: ast.expr) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(
            part.value if isinstance(part, ast.Constant) and isinstance(part.value, str) else "{}"
            for part in node.values
        )
    return None


def _docstrings(tree: ast.AST) -> set[int]:
    return {
        id(body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and (body := node.body)
        and isinstance(body[0], ast.Expr)
        and isinstance(body[0].value, ast.Constant)
    }


def literal_pairs(source: str) -> list[tuple[int, str]]:
    """(line, text) of every "tiếng Việt / English" literal and ("tiếng Việt", "English") tuple."""
    tree = ast.parse(source)
    skipped = _docstrings(tree) | {
        id(part) for node in ast.walk(tree) if isinstance(node, ast.JoinedStr) for part in node.values
    }
    found = []
    for node in ast.walk(tree):
        if id(node) in skipped or not isinstance(node, ast.expr):
            continue
        text = _literal_text(node)
        if text is not None and _is_pair(text):
            found.append((node.lineno, text))
        if isinstance(node, ast.Tuple) and len(node.elts) == 2:
            vi, en = (_literal_text(element) for element in node.elts)
            if (
                vi
                and en
                and HAS_VIETNAMESE.search(vi)
                and not HAS_VIETNAMESE.search(en)
                and re.search("[a-z]", en)
            ):
                found.append((node.lineno, f"({vi!r}, {en!r})"))
    return found


def _allowed(path: str, text: str) -> bool:
    return any(path == file and text.lstrip("(' ").startswith(start) for file, start in ALLOWED)


def test_no_interface_words_are_written_as_a_vietnamese_and_english_pair() -> None:
    files = [
        path
        for path in sorted(VAXREG.rglob("*.py"))
        if not {"tests", "migrations", "testing"} & set(path.relative_to(VAXREG).parts)
    ]
    found = [
        f"vaxreg/{relative}:{line}: {text[:90]}"
        for path in files
        for relative in [path.relative_to(VAXREG).as_posix()]
        for line, text in literal_pairs(path.read_text(encoding="utf-8"))
        if not _allowed(relative, text)
    ]
    assert len(files) > 100  # the walk found the tree
    assert found == [], (
        "interface words go through gettext (English msgid, Vietnamese in the catalogue); both languages at "
        "once through vaxreg.core.i18n.both_languages:\n" + "\n".join(found)
    )


def test_the_scan_sees_a_pair_and_lets_the_rest_be() -> None:
    assert literal_pairs('x = "Đã tạo / Created"\n')
    assert literal_pairs('x = f"Đã tạo {n} / Created {n}"\n')
    assert literal_pairs('NAMES = {"phone": ("số điện thoại", "phone number")}\n')
    assert literal_pairs('reason = "Hết hạn / expired"\n')
    assert not literal_pairs('x = "Nam / Nữ / Khác"\n')  # Vietnamese on both sides
    assert not literal_pairs('x = gettext("Created")\n')
    assert not literal_pairs('def f():\n    """Đã tạo / Created"""\n')
    assert not literal_pairs('path = folder / "data" / "fonts"\n')
