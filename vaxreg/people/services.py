"""Writes of where a person's rows are stored, and the person's row lock (the person's own fields are
corrected by ``corrections``)."""

from collections.abc import Iterable

from django.apps import apps
from django.db import transaction

from vaxreg.core.database import rows_lock
from vaxreg.people.models import Person, PersonQuerySet
from vaxreg.vaccinations.models import Dose


@transaction.atomic
def rows_follow_person(*, person_ids: Iterable[int]) -> int:
    """Store these persons' rows (their doses and findings: ``PersonQuerySet.followers``) under their
    persons' homes again, after a person moved (a correction or a merge changed its province) or rows moved
    to another person (a merge, its undo); how many rows moved.

    No history of its own: where a row is stored is not something a user reads or changes, and the change
    that moved the person (or the rows) is recorded by the service that made it.
    """
    followers = [
        (apps.get_model(label)._default_manager, column) for label, column in PersonQuerySet.followers
    ]
    moved = 0
    for person_id, home in Person.objects.filter(pk__in=list(person_ids)).values_list("pk", "home"):
        for manager, column in followers:
            moved += manager.filter(**{column: person_id}).exclude(home=home).update(home=home)
    return moved


def persons_lock(*, person_ids: Iterable[int]) -> dict[int, Person]:
    """The stored persons with these ids, locked for update until the transaction ends, in id order (on
    Citus one home at a time: ``core.database.rows_lock``)."""
    return rows_lock(Person, person_ids)


def doses_lock(*, dose_ids: Iterable[int]) -> dict[int, Dose]:
    """The stored doses with these ids, locked for update until the transaction ends, in id order."""
    return rows_lock(Dose, dose_ids)
