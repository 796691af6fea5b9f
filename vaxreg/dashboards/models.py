"""The figures of every unit, kept current from the writes that move them (the rollups), and one row per
day of the headline figures for trends; never counted from persons and doses when a page is read."""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _


class Level(models.TextChoices):
    """Where a row of figures sits. The ``*_own`` levels hold what is placed in no unit below: the persons
    of a province with no commune of residence, the complaints its health department handles itself, the
    files it sent for several facilities; a unit's total is its own figures plus its children's totals."""

    FACILITY = "facility"
    COMMUNE_OWN = "commune_own"
    COMMUNE = "commune"
    PROVINCE_OWN = "province_own"
    PROVINCE = "province"
    NATION_OWN = "nation_own"
    NATION = "nation"


class UnitFigure(models.Model):
    """One figure of one unit: e.g. (commune 19753, ``findings``, ``ID_MISSING``) = 41."""

    level = models.CharField(max_length=16, choices=Level.choices)
    unit = models.CharField(max_length=32)  # a commune or province code, a facility's id, "" for the nation
    province = models.CharField(max_length=2, blank=True, default="")  # the unit's province
    commune = models.CharField(max_length=5, blank=True, default="")  # the unit's commune
    figure = models.CharField(max_length=32)
    key = models.CharField(max_length=32, blank=True, default="")
    value = models.BigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["level", "unit", "figure", "key"], name="unit_figure_unique")
        ]
        indexes = [
            # A province's communes, a commune's facilities: the rows of one figure beside each other.
            models.Index(fields=["level", "province", "figure"], name="unit_figure_province_idx"),
            models.Index(fields=["level", "commune", "figure"], name="unit_figure_commune_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.level}:{self.unit} {self.figure}[{self.key}]={self.value}"


class UnitFigureDay(models.Model):
    """A unit's headline figures as they stood at the end of a day (today's row follows every recount)."""

    day = models.DateField()
    level = models.CharField(max_length=16, choices=Level.choices)
    unit = models.CharField(max_length=32)
    figure = models.CharField(max_length=32)
    value = models.BigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["level", "unit", "figure", "day"], name="unit_figure_day_unique")
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.level}:{self.unit} {self.figure}={self.value}"


class StaleUnit(models.Model):
    """A unit whose figures a committed write moved and a recount has not caught up with yet.

    Written in the writer's own transaction, so a mark exists exactly when its change does; a recount takes
    the marks it read and deletes those rows only (never a range: a mark committed during a recount stays
    for the next one). Marks repeat freely; a recount reads each unit once.
    """

    class Kind(models.TextChoices):
        COMMUNE = "commune"
        FACILITY = "facility"
        PROVINCE = "province"  # the province's own records
        PROVINCE_WHOLE = "province_whole"  # every unit of the province
        NATION = "nation"  # the nation's own records
        EVERYTHING = "everything"  # a full rebuild

    kind = models.CharField(max_length=16, choices=Kind.choices)
    unit = models.CharField(max_length=32, blank=True, default="")
    # The only kind of rows (``core.touched.Rows``) the write changed in the unit, when it knew; "": any. A unit
    # whose every mark names some kinds is counted again from those only (a re-check's findings of a person in
    # another province leave that commune's persons and cases as they were).
    rows = models.CharField(max_length=16, blank=True, default="")
    at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.kind}:{self.unit}" + (f"[{self.rows}]" if self.rows else "")


class Target(models.TextChoices):
    """What a campaign measures in its unit: a share of the persons that must reach the goal (%), or a
    count of open work that must come down to it."""

    VERIFIED_SHARE = "verified_share", _("share of persons verified ≥ goal %")
    COMPLETE_SHARE = "complete_share", _("share of persons complete and consistent with the CCCD ≥ goal %")
    CASES_ACTIVE = "cases_active", _("open verification cases ≤ goal")
    FINDINGS_OPEN = "findings_open", _("open findings ≤ goal")


class Campaign(models.Model):
    """A unit's push to a goal by a deadline (the Ministry's 11/11 of 2021): its page shows the trend, the
    date the recent pace reaches the goal, and the units below that will not make it."""

    name = models.CharField(max_length=200)
    unit_key = models.CharField(max_length=40)  # the unit it covers, as the dashboards name it: VN, 46, 19753
    target = models.CharField(max_length=24, choices=Target.choices)
    goal = models.DecimalField(max_digits=12, decimal_places=2)
    start = models.DateField()
    deadline = models.DateField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                name="campaign_deadline_after_start", condition=Q(deadline__gt=F("start"))
            ),
            models.CheckConstraint(name="campaign_goal_not_negative", condition=Q(goal__gte=0)),
        ]
        indexes = [models.Index(fields=["unit_key"], name="campaign_unit_idx")]

    def __str__(self) -> str:
        return self.name
