"""The staff page of a long job (``academy.jobs``), the same for every kind: its state and
a progress bar that polls itself (htmx) while the job runs, the errors of single items,
cancel, and the download of the file it made. ``?format=json`` answers the same as
JSON. Who sees a job: ``academy.jobs.job_list`` (out of scope is a 404)."""

from django.contrib import messages
from django.http import FileResponse, Http404, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from academy.common.exceptions import Conflict
from academy.jobs import job_cancel, job_data, job_get, job_kinds, job_result_file, job_resume_if_stale
from academy.models import Job
from academy.views import staff_layout_context, staff_required


def _job_or_404(request, pk) -> Job:
    job = job_get(user=request.user, pk=pk)
    if job is None:
        raise Http404("No such job.")
    return job


@staff_required
def job_detail(request, pk):
    job = _job_or_404(request, pk)
    job_resume_if_stale(job)  # without a broker, no beat: the poll finds a job cut off by a restart
    if request.GET.get("format") == "json":
        return JsonResponse(job_data(job))
    kind = job_kinds().get(job.kind)
    context = {"job": job, "kind_label": kind.label if kind else job.kind}
    if request.htmx:
        return render(request, "staff/_job_progress.html", context)
    return render(request, "staff/job_detail.html", {**staff_layout_context(request), **context})


@staff_required
def job_download(request, pk):
    job = _job_or_404(request, pk)
    path = job_result_file(job)
    if path is None:
        if job.is_active:
            messages.info(request, "The job has not finished yet: its file is not ready.")
            return redirect("staff:job-detail", pk=job.pk)
        raise Http404("This job has no file.")
    return FileResponse(path.open("rb"), as_attachment=True, filename=job.result_name or path.name)


@require_POST
@staff_required
def job_cancel_view(request, pk):
    job = _job_or_404(request, pk)
    try:
        job_cancel(job=job, actor=request.user)
    except Conflict as conflict:
        messages.error(request, conflict.detail)
    else:
        messages.success(request, "The job was cancelled.")
    return redirect("staff:job-detail", pk=job.pk)
