"""Finding messages become templates: the ID and phone numbers they quoted move out of the stored text.

Until now a finding's message was stored with the values written in; ID_FORMAT, ID_LEADING_ZEROS and
ID_SHARED quoted the full ID number and PHONE_INVALID the phone number, which every page, the API and the
exports then showed. The columns become templates, filled from ``detail`` (which already holds those
values) when a message is read, ID and phone numbers masked (vaxreg.quality.messages).

Every stored message, open or closed, is turned into its template: in the messages of those four rules
the value is replaced by its placeholder where the rule wrote it, and the braces of any other text are
doubled so that it reads exactly as before. Going back fills the templates in again, in full.
"""

import datetime as dt
import string
from typing import Any

from django.db import migrations
from django.db.models import Q

BATCH = 2_000

# Where each rule wrote the value in its message (Vietnamese and English): the text just before and after.
QUOTED: dict[str, tuple[str, list[tuple[str, str]]]] = {
    "ID_FORMAT": ("id_number", [("“", "”")]),
    "ID_LEADING_ZEROS": ("id_number", [("thành ", "."), ("as ", ".")]),
    "ID_SHARED": ("id_number", [("Số giấy tờ ", " còn có ở"), ("The ID ", " is also on")]),
    "PHONE_INVALID": ("phone", [("“", "”")]),
}


def _escape(text: str) -> str:
    return text.replace("{", "{{").replace("}", "}}")


def message_to_template(code: str, message: str, detail: dict[str, Any]) -> str:
    """The template of a stored message: the quoted value as its placeholder, any other brace doubled."""
    template = _escape(message)
    key, contexts = QUOTED.get(code, ("", []))
    value = _escape(str(detail.get(key) or "")) if key else ""
    if not value:
        return template
    placed = template
    for before, after in contexts:
        placed = placed.replace(f"{before}{value}{after}", f"{before}{{{key}}}{after}")
    if placed == template and len(value) >= 6:
        # Not where the rule writes it (a message from an older wording): wherever it is. Shorter values
        # would also match ordinary digits of the text.
        placed = template.replace(value, f"{{{key}}}")
    return placed


class _Unmasked(string.Formatter):
    def get_value(self, key: int | str, args: Any, kwargs: Any) -> Any:
        return kwargs.get(key, "?")

    def format_field(self, value: Any, format_spec: str) -> str:
        if format_spec == "date":
            try:
                day = dt.date.fromisoformat(str(value))
            except ValueError:
                return str(value)
            return f"{day.day:02d}/{day.month:02d}/{day.year}"
        return str(super().format_field(value, format_spec))


def _in_batches(apps: Any, condition: Q, convert: Any) -> None:
    Finding = apps.get_model("quality", "Finding")
    last = 0
    while True:
        rows = list(Finding.objects.filter(condition, id__gt=last).order_by("id")[:BATCH])
        if not rows:
            return
        for row in rows:
            row.template_vi = convert(row.code, row.template_vi, row.detail or {})
            row.template_en = convert(row.code, row.template_en, row.detail or {})
        Finding.objects.bulk_update(rows, ["template_vi", "template_en"], batch_size=500)
        last = rows[-1].id


def _needing_care() -> Q:
    braces = Q()
    for column in ("template_vi", "template_en"):
        braces |= Q(**{f"{column}__contains": "{"}) | Q(**{f"{column}__contains": "}"})
    return Q(code__in=list(QUOTED)) | braces


def messages_to_templates(apps: Any, schema_editor: Any) -> None:
    _in_batches(apps, _needing_care(), message_to_template)


def templates_to_messages(apps: Any, schema_editor: Any) -> None:
    formatter = _Unmasked()

    def fill(code: str, template: str, detail: dict[str, Any]) -> str:
        return formatter.vformat(template, (), detail)

    _in_batches(apps, _needing_care(), fill)


class Migration(migrations.Migration):
    dependencies = [
        ("quality", "0001_initial"),
    ]

    operations = [
        migrations.RenameField(model_name="finding", old_name="message_vi", new_name="template_vi"),
        migrations.RenameField(model_name="finding", old_name="message_en", new_name="template_en"),
        migrations.RunPython(messages_to_templates, templates_to_messages, elidable=True),
    ]
