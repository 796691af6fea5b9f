from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('people', '0003_person_merged_into'),
        ('places', '0001_initial'),
    ]

    operations = [
        migrations.AddField(
            model_name='person',
            name='home',
            field=models.CharField(default='00', editable=False, max_length=2),
        ),
        # The stored persons' homes, before the constraint that keeps them right holds.
        migrations.RunSQL(
            "UPDATE people_person SET home = province_id WHERE province_id IS NOT NULL",
            migrations.RunSQL.noop,
        ),
        migrations.AddConstraint(
            model_name='person',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('home', '00'), ('province__isnull', True)), models.Q(('home', models.F('province')), ('province__isnull', False)), _connector='OR'), name='person_home_is_province'),
        ),
    ]
