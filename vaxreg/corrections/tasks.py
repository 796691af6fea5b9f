import datetime as dt

from django_tasks import task

from vaxreg.core.periodic import periodic_register
from vaxreg.corrections.services import access_change_notice_send, access_changes_expire


@task()
def access_change_notice_send_task(change_id: int, event: str) -> bool:
    """Tell the phone on record of a change of the fields that open the citizen's access."""
    return access_change_notice_send(change_id=change_id, event=event)


periodic_register("access_changes_expire", every=dt.timedelta(hours=1), func=access_changes_expire)
