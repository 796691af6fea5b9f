"""`vaxreg citus distribute` on a database that is not a Citus coordinator says so and changes nothing."""

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from vaxreg.core.database import is_citus


@pytest.mark.django_db
def test_distribute_refuses_a_database_that_is_not_a_citus_coordinator() -> None:
    if is_citus(connection):
        pytest.skip("on a Citus coordinator distribute would run (vaxreg/scale/tests/test_distribution.py)")
    with pytest.raises(CommandError, match="not a Citus coordinator"):
        call_command("citus", "distribute")
