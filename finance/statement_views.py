"""Staff pages of the location ("school") statement: every invoice a location issued in
a period, by student with subtotals and totals (``finance.statements``), as a page (its
students paginated, the totals always the whole statement's), a PDF and a CSV (both
with every invoice).

Finance staff and administrators (``finance.view_studentaccount``, as the reports); a
location outside the user's scope answers 404."""

from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import render

from academy.common.csv_stream import streamed_csv
from academy.selectors import location_list
from academy.views import query_without, staff_layout_context, staff_permission_required
from finance import documents, statements
from finance.staff_forms import PeriodForm

STUDENTS_PER_PAGE = 50


@staff_permission_required("finance.view_studentaccount")
def location_statement_index(request):
    """The locations the user may see, each linked to its statement."""
    context = {
        **staff_layout_context(request),
        "locations": location_list(user=request.user).order_by("name"),
        "period": statements.location_statement_period(),
    }
    return render(request, "staff/finance_location_statement_index.html", context)


@staff_permission_required("finance.view_studentaccount")
def location_statement(request, pk):
    """One location's statement; ``?from=&to=`` (issue dates; neither: the current
    academic year), ``?format=pdf`` / ``?format=csv``. Bad dates: the form's errors
    (400) and no statement."""
    location = statements.location_for_statement(user=request.user, pk=pk)
    if location is None:
        raise Http404("No such location.")
    form = PeriodForm(request.GET)
    context = {**staff_layout_context(request), "location": location, "form": form, "statement": None}
    if not form.is_valid():
        return render(request, "staff/finance_location_statement.html", context, status=400)
    statement = statements.location_statement(location=location, **form.period())
    name = statements.location_statement_filename(statement)
    if request.GET.get("format") == "pdf":
        response = HttpResponse(documents.location_statement_pdf(statement), content_type="application/pdf")
        response["Content-Disposition"] = f'inline; filename="{name}.pdf"'
        return response
    if request.GET.get("format") == "csv":
        return streamed_csv(
            statements.CSV_HEADER, statements.location_statement_csv_rows(statement), filename=f"{name}.csv"
        )
    period = {"from": statement.date_from, "to": statement.date_to}
    context |= {
        "statement": statement,
        "page": Paginator(statement.students, STUDENTS_PER_PAGE).get_page(request.GET.get("page")),
        "query": query_without(request, "page"),
        "file_query": "&".join(f"{key}={value:%Y-%m-%d}" for key, value in period.items() if value),
    }
    return render(request, "staff/finance_location_statement.html", context)
