import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    """A finding's home (its person's: on Citus it is stored with its person), filled for the stored ones,
    and its person and dose as relations on (home, person_id) → (home, id) and (home, dose_id) → (home, id),
    so that every join the ORM writes from a finding carries the home. The columns person_id and dose_id,
    their keys and the constraints and index on them are as they were in the database: only Django's view
    of them changes."""

    dependencies = [
        ("people", "0004_person_home"),
        ("quality", "0002_finding_message_templates"),
        ("vaccinations", "0005_dose_person_composite"),
    ]

    operations = [
        migrations.AddField(
            model_name="finding",
            name="home",
            field=models.CharField(default="", editable=False, max_length=2),
        ),
        migrations.RunSQL(
            "UPDATE quality_finding SET home = "
            "(SELECT p.home FROM people_person p WHERE p.id = quality_finding.person_id)",
            migrations.RunSQL.noop,
        ),
        migrations.AddConstraint(
            model_name="finding",
            constraint=models.CheckConstraint(condition=models.Q(("home", ""), _negated=True), name="finding_home_set"),
        ),
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveConstraint(model_name="finding", name="finding_open_person_unique"),
                migrations.RemoveConstraint(model_name="finding", name="finding_open_dose_unique"),
                migrations.RemoveIndex(model_name="finding", name="finding_person_open_idx"),
                migrations.RemoveField(model_name="finding", name="person"),
                migrations.RemoveField(model_name="finding", name="dose"),
                migrations.AddField(
                    model_name="finding", name="person_id", field=models.BigIntegerField(), preserve_default=False
                ),
                migrations.AddField(
                    model_name="finding", name="dose_id", field=models.BigIntegerField(blank=True, null=True)
                ),
                migrations.AddField(
                    model_name="finding",
                    name="person",
                    field=models.ForeignObject(
                        from_fields=("home", "person_id"),
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="findings",
                        to="people.person",
                        to_fields=("home", "id"),
                    ),
                ),
                migrations.AddField(
                    model_name="finding",
                    name="dose",
                    field=models.ForeignObject(
                        blank=True,
                        from_fields=("home", "dose_id"),
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="findings",
                        to="vaccinations.dose",
                        to_fields=("home", "id"),
                    ),
                ),
                migrations.AddIndex(
                    model_name="finding",
                    index=models.Index(fields=["person_id", "is_open"], name="finding_person_open_idx"),
                ),
                migrations.AddConstraint(
                    model_name="finding",
                    constraint=models.UniqueConstraint(
                        condition=models.Q(("dose_id__isnull", True), ("is_open", True)),
                        fields=("person_id", "code"),
                        name="finding_open_person_unique",
                    ),
                ),
                migrations.AddConstraint(
                    model_name="finding",
                    constraint=models.UniqueConstraint(
                        condition=models.Q(("dose_id__isnull", False), ("is_open", True)),
                        fields=("person_id", "dose_id", "code"),
                        name="finding_open_dose_unique",
                    ),
                ),
            ],
            database_operations=[],
        ),
    ]
