from django.db import migrations, models

from finance.migrations._append_only import ensure_append_only


class Migration(migrations.Migration):
    """The document date of each ledger entry, for statements (existing rows: their
    creation date)."""

    dependencies = [("finance", "0003_billing_run")]

    operations = [
        migrations.AddField(
            model_name="ledgerentry",
            name="effective_date",
            field=models.DateField(
                default="2000-01-01", help_text="The date of the document: invoice issue, payment receipt, ..."
            ),
            preserve_default=False,
        ),
        migrations.AddIndex(
            model_name="ledgerentry",
            index=models.Index(fields=["account", "effective_date"], name="ledger_account_date"),
        ),
        # SQLite rebuilt finance_ledgerentry above, dropping its triggers: put them back.
        migrations.RunPython(ensure_append_only, migrations.RunPython.noop),
    ]
