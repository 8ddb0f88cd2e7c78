from django.core.management.base import BaseCommand, CommandError

from finance.selectors import ledger_verify


class Command(BaseCommand):
    help = "Prove every cached balance and invoice amount against the ledger and the payment records."

    def handle(self, **options):
        report = ledger_verify()
        for problem in report.problems:
            self.stdout.write(f"DISCREPANCY {problem}")
        self.stdout.write(
            f"checked {report.accounts} accounts, {report.invoices} invoices, {report.payments} payments: "
            f"{len(report.problems)} discrepancies"
        )
        if not report.ok:
            raise CommandError("the ledger does not match")
