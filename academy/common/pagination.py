from rest_framework import pagination
from rest_framework.exceptions import ValidationError


def _positive_whole_number(raw: str) -> int | None:
    try:
        number = int(raw)
    except (TypeError, ValueError):
        return None
    return number if number >= 1 else None


class PageNumberPagination(pagination.PageNumberPagination):
    """``?page=N&page_size=M`` (at most 500), answering ``{count, next, previous, results}``.

    A ``page`` or ``page_size`` that is not a whole number from 1, a ``page_size`` over the
    maximum and a ``page`` past the last are 400 on that parameter (DRF would use the
    default size, cut the size to the maximum, or answer 404). An empty value is the
    default, like an empty filter.
    """

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500

    def get_page_size(self, request):
        raw = request.query_params.get(self.page_size_query_param)
        if not raw:
            return self.page_size
        size = _positive_whole_number(raw)
        if size is None:
            raise ValidationError({self.page_size_query_param: ["A page size is a whole number from 1."]})
        if size > self.max_page_size:
            raise ValidationError({self.page_size_query_param: [f"A page holds at most {self.max_page_size} rows."]})
        return size

    def get_page_number(self, request, paginator):
        raw = request.query_params.get(self.page_query_param)
        if not raw:
            return 1
        if raw in self.last_page_strings:
            return paginator.num_pages
        number = _positive_whole_number(raw)
        if number is None:
            raise ValidationError({self.page_query_param: ["A page is a whole number from 1."]})
        if number > paginator.num_pages:
            raise ValidationError(
                {self.page_query_param: [f"Page {number} is past the last page ({paginator.num_pages})."]}
            )
        return number
