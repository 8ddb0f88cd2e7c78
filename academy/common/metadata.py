"""The API's answer to OPTIONS (the ``DEFAULT_METADATA_CLASS``)."""

from rest_framework.metadata import SimpleMetadata


class ApiMetadata(SimpleMetadata):
    """OPTIONS answers the view's name, description and media types. The fields of each
    operation are in the OpenAPI schema (``/api/schema/``): DRF would describe them from
    the view's ``serializer_class``, which is the output of a resource (not what a write
    takes) and missing on views that read input serializers only (a 500)."""

    def determine_actions(self, request, view):
        return {}
