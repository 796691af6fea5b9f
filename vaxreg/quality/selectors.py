"""Reads of stored findings."""

from django.db.models import Count

from vaxreg.quality.models import Finding


def open_findings_by_code() -> dict[str, int]:
    rows = Finding.objects.filter(is_open=True).values("code").annotate(n=Count("id")).order_by("code")
    return {row["code"]: row["n"] for row in rows}
