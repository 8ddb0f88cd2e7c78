"""``manage.py verify_document <token>``: the verification page's answer on the command line
(exit status 0 genuine, 1 expired, 2 invalid); the check is logged as a visit."""

import json

from django.core.management.base import BaseCommand, CommandError

from grading.documents import document_verify
from grading.models import DocumentVisit
from grading.verify_views import verification_data

EXIT = {"genuine": 0, "expired": 1, "invalid": 2}


class Command(BaseCommand):
    help = "Say whether a document's verification token is genuine, expired or invalid, and what it states."

    def add_arguments(self, parser):
        parser.add_argument("token", help="the token of the link /verify/<token>/ (or the whole link)")
        parser.add_argument("--json", action="store_true", help="print the answer as JSON")

    def handle(self, *args, token: str, **options):
        token = token.strip().rstrip("/").rsplit("/verify/", 1)[-1]
        verification = document_verify(token)
        DocumentVisit.objects.create(outcome=verification.outcome, document=verification.document, via="command")
        data = verification_data(verification)
        if options["json"]:
            self.stdout.write(json.dumps(data, indent=2, ensure_ascii=False))
        else:
            self.stdout.write(data["status"].upper())
            if verification.genuine:
                content = data["content"]
                student = content.get("student", {})
                self.stdout.write(f"{data['document_type']} of {student.get('name')} ({student.get('number')})")
                self.stdout.write(f"issued {data['issued_on']}, valid until {data['valid_until']}")
                self.stdout.write(f"digest {data['digest']}")
            else:
                self.stdout.write(data["detail"])
        if verification.outcome != "genuine":
            raise CommandError(f"the document is {verification.outcome}", returncode=EXIT[verification.outcome])
