"""A citizen's short session after a correct one-time code: which person's record it may read.

Certificate downloads and the citizen's own pages ask ``citizen_person_id``; only the OTP check calls
``citizen_session_start``.
"""

import datetime as dt

from django.http import HttpRequest

from vaxreg.core import clock

SESSION_KEY = "citizen_person_id"
SESSION_UNTIL = "citizen_until"
CITIZEN_SESSION_LENGTH = dt.timedelta(minutes=15)


def citizen_session_start(request: HttpRequest, *, person_id: int) -> None:
    request.session.cycle_key()  # a new session id once the code was right: no fixation
    request.session[SESSION_KEY] = person_id
    request.session[SESSION_UNTIL] = (clock.now() + CITIZEN_SESSION_LENGTH).timestamp()


def citizen_person_id(request: HttpRequest) -> int | None:
    """The person this browser proved to be in the last 15 minutes, or None."""
    person_id = request.session.get(SESSION_KEY)
    until = request.session.get(SESSION_UNTIL, 0)
    if person_id is None or clock.now().timestamp() > float(until):
        return None
    return int(person_id)


def citizen_session_end(request: HttpRequest) -> None:
    request.session.pop(SESSION_KEY, None)
    request.session.pop(SESSION_UNTIL, None)
