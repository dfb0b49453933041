from django.db import migrations


def load(apps, schema_editor):
    from compliance.catalog import catalog_ensure

    catalog_ensure(apps=apps)


class Migration(migrations.Migration):

    dependencies = [
        ("compliance", "0002_catalog_controls_runs"),
    ]

    operations = [
        migrations.RunPython(load, migrations.RunPython.noop),
    ]
