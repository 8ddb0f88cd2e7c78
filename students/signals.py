"""What the students app tells the apps above it (which it may not import).

Receivers run inside the sender's transaction: a receiver that raises rolls the
student's change back with everything the receivers wrote."""

from django.dispatch import Signal

# Sent by ``students.services`` inside the transaction that withdraws, graduates or
# soft-deletes a student, after the student's row is locked and saved,
# with ``student``, ``actor`` (may be ``None``), ``departure`` (one of ``DEPARTURES``),
# ``reason`` and ``on`` (the day the student leaves). ``enrollment.receivers`` ends the
# student's enrollments, offers the freed seats to the waitlists and takes the student
# off every waitlist; ``attendance.receivers`` then cancels their booked make-ups and
# revokes their unused make-up credits.
student_left = Signal()

# Sent by ``students.services.students_graduate`` for many students at once (a year-end
# promotion's chunk), with ``students`` (a list), ``actor``, ``departure``, ``reason``
# and ``on``: each receiver does for every student what it does on ``student_left``,
# first asking in one query which of them have anything to end.
students_left = Signal()

WITHDRAWN = "withdrawn"
GRADUATED = "graduated"
DELETED = "deleted"
DEPARTURES = (WITHDRAWN, GRADUATED, DELETED)
