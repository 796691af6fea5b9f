import datetime as dt

from django_tasks import task

from vaxreg.citizens.services import otp_challenges_prune, otp_message_send
from vaxreg.core.periodic import periodic_register


@task()
def otp_message_send_task(challenge_id: int) -> bool:
    """Text a lookup code to the phone on record (nothing when the details matched nobody)."""
    return otp_message_send(challenge_id=challenge_id)


def _otp_challenges_prune() -> int:
    return otp_challenges_prune()


periodic_register("otp_challenges_prune", every=dt.timedelta(hours=1), func=_otp_challenges_prune)
