"""What a user may read: the one place that turns a role and a unit into query filters (SPEC §2).

Every selector that returns persons or doses passes its queryset through ``persons_visible`` or
``doses_visible``. Scoping uses correlated ``EXISTS`` sub-queries rather than joins: a join on doses
multiplies person rows and needs ``DISTINCT``, which on millions of persons sorts the whole result, while
``EXISTS`` stops at the first dose found through the (person, date) index (the person's home, which every
dose carries, correlates too: on Citus the two tables are co-located on it).

Core sits below people and vaccinations, so the models are looked up by label when a filter is built
instead of being imported.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.db.models import Exists, OuterRef, Q, QuerySet


class Scope(enum.StrEnum):
    ALL = "all"
    PROVINCE = "province"
    COMMUNE = "commune"
    FACILITY = "facility"
    NOTHING = "nothing"


# Roles by their stored value: core does not import accounts.
_READ_ALL_ROLES = {"national", "admin"}


@dataclass(frozen=True)
class Jurisdiction:
    """The unit a user answers for; ``NOTHING`` reads no person (police until cases exist, anonymous)."""

    scope: Scope
    province_code: str | None = None
    commune_code: str | None = None
    facility_id: int | None = None

    @property
    def reads_everything(self) -> bool:
        return self.scope is Scope.ALL

    def person_q(self, prefix: str = "") -> Q:
        """A filter keeping the visible persons (or rows whose ``prefix`` leads to a visible person).

        The doses looked for are those of the person's own home (a dose is stored under its person's home),
        and their facilities are named by a sub-query of the facilities in the unit rather than a join: on
        Citus the first makes the look-up a join of co-located shards, and the second keeps the reference
        table of facilities out of a correlated sub-query, which Citus cannot run.
        """
        dose_model = apps.get_model("vaccinations", "Dose")
        facility_model = apps.get_model("places", "Facility")
        # "person__" → "person_id": the foreign key column itself, no join to reach the person's key.
        pk = f"{prefix[:-2]}_id" if prefix else "pk"
        if self.scope is Scope.ALL:
            return Q()
        if self.scope is Scope.PROVINCE:
            facilities = facility_model.objects.filter(province_id=self.province_code).values("pk")
            return Q(**{f"{prefix}province_id": self.province_code}) | Q(
                Exists(self._doses_at(dose_model, prefix, pk, facility_id__in=facilities))
            )
        if self.scope is Scope.COMMUNE:
            facilities = facility_model.objects.filter(commune_id=self.commune_code).values("pk")
            return Q(**{f"{prefix}commune_id": self.commune_code}) | Q(
                Exists(self._doses_at(dose_model, prefix, pk, facility_id__in=facilities))
            )
        if self.scope is Scope.FACILITY:
            return Q(Exists(self._doses_at(dose_model, prefix, pk, facility_id=self.facility_id or 0)))
        return Q(pk__in=[])

    @staticmethod
    def _doses_at(dose_model: Any, prefix: str, pk: str, **facility: Any) -> QuerySet[Any]:
        return dose_model.objects.filter(home=OuterRef(f"{prefix}home"), person_id=OuterRef(pk), **facility)

    def persons_visible(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.scope is Scope.NOTHING:
            return queryset.none()
        return queryset.filter(self.person_q())

    def doses_visible(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        """Every dose of a visible person: a facility sees the other facilities' doses of its own persons."""
        if self.scope is Scope.NOTHING:
            return queryset.none()
        return queryset.filter(self.person_q(prefix="person__"))

    def covers_facility(self, facility: Any) -> bool:
        """Whether a facility lies inside this unit (who may upload or act for it)."""
        if self.scope is Scope.ALL:
            return True
        if self.scope is Scope.PROVINCE:
            return facility.province_id == self.province_code
        if self.scope is Scope.COMMUNE:
            return facility.commune_id == self.commune_code
        if self.scope is Scope.FACILITY:
            return facility.pk == self.facility_id
        return False


NO_JURISDICTION = Jurisdiction(scope=Scope.NOTHING)


def jurisdiction_of(user: Any) -> Jurisdiction:
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return NO_JURISDICTION
    role = getattr(user, "role", "")
    if role in _READ_ALL_ROLES:
        return Jurisdiction(scope=Scope.ALL)
    if role == "province" and user.province_id:
        return Jurisdiction(scope=Scope.PROVINCE, province_code=user.province_id)
    if role == "commune" and user.commune_id:
        return Jurisdiction(scope=Scope.COMMUNE, province_code=user.province_id, commune_code=user.commune_id)
    if role == "facility" and user.facility_id:
        return Jurisdiction(
            scope=Scope.FACILITY, province_code=user.province_id, facility_id=user.facility_id
        )
    # Police read only the verification cases escalated to them, which this scope does not cover.
    return NO_JURISDICTION
