"""The REST API v1: one router that mounts every app's viewsets (API.md)."""

from django.urls import include, path
from rest_framework.routers import DefaultRouter

from academy.api import views as academy_api
from families.api import views as families_api

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
router.register("sections", academy_api.SectionViewSet, basename="section")
router.register("class-sessions", academy_api.ClassSessionViewSet, basename="class-session")

# students and families
router.register("students", families_api.StudentViewSet, basename="student")
router.register("guardians", families_api.GuardianViewSet, basename="guardian")
router.register("student-guardians", families_api.StudentGuardianViewSet, basename="student-guardian")

urlpatterns = [
    path("auth/token/", academy_api.TokenObtainView.as_view(), name="api-token"),
    path("me/", families_api.MeView.as_view(), name="api-me"),
    path("", include(router.urls)),
]
