from django.apps import AppConfig


class EnrollmentConfig(AppConfig):
    name = "enrollment"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from academy.models import Section
        from academy.signals import section_capacity_raised
        from enrollment import receivers
        from students.models import Student
        from students.signals import student_left, students_left

        section_capacity_raised.connect(
            receivers.offer_seats_after_capacity_raise,
            sender=Section,
            dispatch_uid="enrollment_offer_seats_after_capacity_raise",
        )
        student_left.connect(
            receivers.end_enrollments_of_departed_student,
            sender=Student,
            dispatch_uid="enrollment_end_enrollments_of_departed_student",
        )
        students_left.connect(
            receivers.end_enrollments_of_departed_students,
            sender=Student,
            dispatch_uid="enrollment_end_enrollments_of_departed_students",
        )
