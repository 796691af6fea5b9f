"""Writes of the FHIR exchange besides tokens (``tokens``) and received Bundles (``intake``)."""

from django.db import transaction

from vaxreg.core import clock
from vaxreg.core.models import AuditEvent
from vaxreg.fhir.models import ApiToken
from vaxreg.people.models import Person


@transaction.atomic
def full_id_reads_record(*, token: ApiToken, persons: list[Person], interaction: str) -> None:
    """Each Patient sent out carries the full ID number: one audit row per person read (SPEC §2)."""
    now = clock.now()
    AuditEvent.objects.bulk_create(
        [
            AuditEvent(
                action=AuditEvent.Action.FULL_ID_READ,
                actor=None,
                at=now,
                object_type="person",
                object_id=str(person.pk),
                detail={
                    "id_type": person.id_type,
                    "via": "fhir",
                    "interaction": interaction,
                    "token_id": token.pk,
                    "token_prefix": token.prefix,
                    "facility": token.facility.code,
                },
            )
            for person in persons
            if person.id_number
        ]
    )
