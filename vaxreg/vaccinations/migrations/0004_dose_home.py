from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('people', '0004_person_home'),
        ('vaccinations', '0003_dose_key_collation'),
    ]

    operations = [
        migrations.AddField(
            model_name='dose',
            name='home',
            field=models.CharField(default='', editable=False, max_length=2),
        ),
        # The stored doses' homes, their persons', before the constraint that keeps them set holds.
        migrations.RunSQL(
            "UPDATE vaccinations_dose SET home = "
            "(SELECT p.home FROM people_person p WHERE p.id = vaccinations_dose.person_id)",
            migrations.RunSQL.noop,
        ),
        migrations.AddConstraint(
            model_name='dose',
            constraint=models.CheckConstraint(condition=models.Q(('home', ''), _negated=True), name='dose_home_set'),
        ),
    ]
