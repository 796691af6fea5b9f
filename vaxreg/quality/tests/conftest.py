from typing import Any

import pytest

from vaxreg.places.models import Facility
from vaxreg.places.services import facilities_generate


@pytest.fixture
def facility(reference_data: Any, db: Any) -> Facility:
    facilities_generate(province_code="46")
    return Facility.objects.order_by("code").first()  # type: ignore[return-value]
