"""Staff portal pages of the enrollment app, mounted in the ``staff`` namespace by
``academy.config.urls``."""

from django.urls import path

from enrollment import staff_views

urlpatterns = [
    path("structure/sections/", staff_views.structure_sections, name="structure-sections"),
]
