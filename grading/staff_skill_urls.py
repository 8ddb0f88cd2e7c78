"""Staff portal pages of skill progress (``grading.staff_skill_views``), mounted in the
``staff`` namespace by ``academy.config.urls``."""

from django.urls import path

from grading import staff_skill_views

urlpatterns = [
    path("skills/", staff_skill_views.skills_index, name="skills"),
    path("skills/ready/", staff_skill_views.skills_ready, name="skills-ready"),
    path("skills/sections/<uuid:pk>/", staff_skill_views.skills_section, name="skills-section"),
    path("skills/sections/<uuid:pk>/rate/", staff_skill_views.skills_rate, name="skills-rate"),
    path("skills/enrollments/<uuid:pk>/advance/", staff_skill_views.skills_advance, name="skills-advance"),
    path("skills/students/<uuid:pk>/", staff_skill_views.skills_student, name="skills-student"),
]
