# Invoices remember the billing run that issued them (issue 12).

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("finance", "0009_ledger_source_partial_indexes"),
    ]

    operations = [
        migrations.AddField(
            model_name="historicalinvoice",
            name="billing_run",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                db_index=False,
                editable=False,
                null=True,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                to="finance.billingrun",
            ),
        ),
        migrations.AddField(
            model_name="invoice",
            name="billing_run",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                editable=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="invoices",
                to="finance.billingrun",
            ),
        ),
    ]
