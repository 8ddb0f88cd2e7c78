from django.apps import AppConfig


class AttendanceConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "attendance"

    def ready(self):
        from attendance import receivers
        from students.models import Student
        from students.signals import student_left, students_left

        # after enrollment's receiver (enrollment is installed first): seats, then make-ups
        student_left.connect(
            receivers.close_makeups_of_departed_student,
            sender=Student,
            dispatch_uid="attendance_close_makeups_of_departed_student",
        )
        students_left.connect(
            receivers.close_makeups_of_departed_students,
            sender=Student,
            dispatch_uid="attendance_close_makeups_of_departed_students",
        )
