import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    """A dose's person as a relation on (home, person_id) → (home, id), so that every join the ORM writes
    between a dose and its person carries the home (on Citus, the join stays inside one shard). The column
    person_id and its key in the database are as they were: only Django's view of them changes."""

    dependencies = [
        ("people", "0004_person_home"),
        ("vaccinations", "0004_dose_home"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveIndex(model_name="dose", name="dose_person_date_idx"),
                migrations.RemoveField(model_name="dose", name="person"),
                migrations.AddField(
                    model_name="dose", name="person_id", field=models.BigIntegerField(), preserve_default=False
                ),
                migrations.AddField(
                    model_name="dose",
                    name="person",
                    field=models.ForeignObject(
                        from_fields=("home", "person_id"),
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="doses",
                        to="people.person",
                        to_fields=("home", "id"),
                    ),
                ),
                migrations.AddIndex(
                    model_name="dose",
                    index=models.Index(fields=["person_id", "vaccination_date"], name="dose_person_date_idx"),
                ),
            ],
            database_operations=[],
        )
    ]
