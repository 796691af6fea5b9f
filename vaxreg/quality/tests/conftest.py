from typing import Any

import pytest

from vaxreg.accounts.models import Role, User
from vaxreg.places.models import Facility
from vaxreg.places.services import facilities_generate

NATIONAL = "quality-national"  # the account the findings exports of these tests are made for


@pytest.fixture
def facility(reference_data: Any, db: Any) -> Facility:
    facilities_generate(province_code="46")
    User.objects.create(username=NATIONAL, role=Role.NATIONAL)
    return Facility.objects.order_by("code").first()  # type: ignore[return-value]
