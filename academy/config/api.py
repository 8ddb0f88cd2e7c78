"""The REST API v1: one router that mounts every app's viewsets (docs/api.md)."""

from django.urls import include, path
from rest_framework.routers import DefaultRouter

from academy.api import views as academy_api
from attendance.api import views as attendance_api
from enrollment.api import transfers as transfers_api
from enrollment.api import views as enrollment_api
from families.api import notifications as family_notifications_api
from families.api import views as families_api
from finance.api import views as finance_api
from grading.api import documents as documents_api
from grading.api import report_cards as report_cards_api
from grading.api import views as grading_api
from notifications.api.serializers import SentNotificationSerializer
from notifications.api.views import NotificationViewSet
from promotion import api as promotion_api


# Higher apps add to academy's structure resources (academy cannot import them, and no app
# imports another's API views): the shell composes their mixins here.
class SectionViewSet(enrollment_api.SectionSeatsMixin, academy_api.SectionViewSet):
    __doc__ = enrollment_api.SectionSeatsMixin.__doc__


class ClassSessionViewSet(attendance_api.ClassSessionAttendanceMixin, academy_api.ClassSessionViewSet):
    __doc__ = attendance_api.ClassSessionAttendanceMixin.__doc__


class StudentViewSet(
    promotion_api.StudentPromotionsMixin,
    grading_api.StudentProgressMixin,
    documents_api.StudentTranscriptMixin,
    families_api.StudentViewSet,
):
    __doc__ = families_api.StudentViewSet.__doc__


class GuardianNotificationList(family_notifications_api.GuardianNotificationList):
    __doc__ = family_notifications_api.GuardianNotificationList.__doc__
    serializer_class = SentNotificationSerializer


router = DefaultRouter()
router.APIRootView = academy_api.ApiRootView

# academy: the structure
router.register("locations", academy_api.LocationViewSet, basename="location")
router.register("facilities", academy_api.FacilityViewSet, basename="facility")
router.register("academic-years", academy_api.AcademicYearViewSet, basename="academic-year")
router.register("terms", academy_api.TermViewSet, basename="term")
router.register("grade-levels", academy_api.GradeLevelViewSet, basename="grade-level")
router.register("programs", academy_api.ProgramViewSet, basename="program")
router.register("courses", academy_api.CourseViewSet, basename="course")
router.register("curricula", academy_api.CurriculumViewSet, basename="curriculum")
router.register("sections", SectionViewSet, basename="section")  # + seats
router.register("class-sessions", ClassSessionViewSet, basename="class-session")  # + {id}/attendance/

# students and families
router.register("students", StudentViewSet, basename="student")  # + progress, transcript, promotions
router.register("guardians", families_api.GuardianViewSet, basename="guardian")
router.register("student-guardians", families_api.StudentGuardianViewSet, basename="student-guardian")

# finance: fees, invoices, payments, adjustments, billing runs (statements and reports: finance.api.urls)
router.register("fee-types", finance_api.FeeTypeViewSet, basename="fee-type")
router.register("fee-structures", finance_api.FeeStructureViewSet, basename="fee-structure")
router.register("invoices", finance_api.InvoiceViewSet, basename="invoice")
router.register("payments", finance_api.PaymentViewSet, basename="payment")
router.register("refunds", finance_api.RefundViewSet, basename="refund")
router.register("adjustments", finance_api.AdjustmentViewSet, basename="adjustment")
router.register("billing-runs", finance_api.BillingRunViewSet, basename="billing-run")
router.register("session-packages", finance_api.SessionPackageViewSet, basename="session-package")

# enrollment: students in sections, waitlists
router.register("enrollments", enrollment_api.EnrollmentViewSet, basename="enrollment")
router.register("waitlist", enrollment_api.WaitlistViewSet, basename="waitlist-entry")
router.register("transfers", transfers_api.TransferViewSet, basename="transfer")  # location transfers

# attendance: marks, rosters (class-sessions/{id}/attendance/), make-up credits
router.register("attendance", attendance_api.AttendanceViewSet, basename="attendance-record")
router.register("makeup-credits", attendance_api.MakeupCreditViewSet, basename="makeup-credit")

# grading: scales, assessments, scores (one or a whole gradebook), results, change requests, skills
router.register("grade-scales", grading_api.GradeScaleViewSet, basename="grade-scale")
router.register("assessments", grading_api.AssessmentViewSet, basename="assessment")
router.register("scores", grading_api.ScoreViewSet, basename="score")
router.register("results", grading_api.ResultViewSet, basename="result")
router.register("result-changes", grading_api.ResultChangeViewSet, basename="result-change")
router.register("skill-ratings", grading_api.SkillRatingViewSet, basename="skill-rating")
router.register("report-card-jobs", report_cards_api.ReportCardJobViewSet, basename="report-card-job")  # 202, poll
router.register(
    "document-requests", documents_api.DocumentRequestViewSet, basename="document-request"
)  # + complete: 202

# promotion: year-end runs (preview and start: 202), their proposals and records
router.register("promotion-runs", promotion_api.PromotionRunViewSet, basename="promotion-run")

# notifications: the caller's own inbox
router.register("notifications", NotificationViewSet, basename="notification")

urlpatterns = [
    path("auth/token/", academy_api.TokenObtainView.as_view(), name="api-token"),
    path("auth/token/rotate/", academy_api.TokenRotateView.as_view(), name="api-token-rotate"),
    path("auth/token/revoke/", academy_api.TokenRevokeView.as_view(), name="api-token-revoke"),
    path("me/", families_api.MeView.as_view(), name="api-me"),
    path("guardians/<uuid:pk>/notifications/", GuardianNotificationList.as_view(), name="guardian-notifications"),
    path("", include("finance.api.urls")),
    path("", include("attendance.api.urls")),
    path("", include(router.urls)),
]
