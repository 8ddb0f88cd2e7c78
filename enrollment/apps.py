from django.apps import AppConfig


class EnrollmentConfig(AppConfig):
    name = "enrollment"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from academy.models import Section
        from academy.signals import section_capacity_raised
        from enrollment import receivers

        section_capacity_raised.connect(
            receivers.offer_seats_after_capacity_raise,
            sender=Section,
            dispatch_uid="enrollment_offer_seats_after_capacity_raise",
        )
