"""Documents in Django admin: the request, register and visit pages load (history
included); they are read-only; approving and completing requests go through
``grading.document_services`` (a refusal is a message, nothing written) and need
``grading.change_documentrequest``."""

import pytest
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.urls import reverse

from academy.models import Job
from grading import document_services, documents
from grading.models import DocumentRequest, DocumentVisit, IssuedDocument
from tests.factories.academy import UserFactory
from tests.grading.conftest import share_grading

share_grading(globals())

MODELS = (DocumentRequest, IssuedDocument, DocumentVisit)


@pytest.fixture
def root(db):
    return UserFactory(username="root", is_staff=True, is_superuser=True)


def admin_staff(username: str, *permissions: str):
    user = UserFactory(username=username, is_staff=True)
    for permission in permissions:
        app_label, codename = permission.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    return user


def url(model, view: str, *args) -> str:
    return reverse(f"admin:grading_{model._meta.model_name}_{view}", args=args)


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


@pytest.fixture
def dw(students, registrar, client, django_capture_on_commit_callbacks):
    """A pending request, an approved one, and a completed bonafide with its document
    (its PDF job not run) and a visit of its verification link."""
    with django_capture_on_commit_callbacks(execute=False):
        pending = document_services.document_request_create(
            student=students[0], type="noc", purpose="A trip", actor=registrar
        )
        approved = document_services.document_request_create(
            student=students[1], type="bonafide", purpose="A bank account", actor=registrar
        )
        approved = document_services.document_request_approve(request=approved, actor=registrar)
        completed = document_services.document_request_create(
            student=students[2], type="bonafide", purpose="A visa", actor=registrar
        )
        completed = document_services.document_request_approve(request=completed, actor=registrar)
        completed, document, _job = document_services.document_request_complete(request=completed, actor=registrar)
    client.get(reverse("verify", args=[documents.document_token(document)]))
    return {
        "pending": pending,
        "approved": approved,
        "completed": completed,
        DocumentRequest: pending,
        IssuedDocument: document,
        DocumentVisit: DocumentVisit.objects.get(document=document),
    }


def test_every_document_page_loads_for_an_admin(client, root, dw, students):
    client.force_login(root)
    for model in MODELS:
        row = dw[model]
        assert client.get(url(model, "changelist")).status_code == 200, model
        page = client.get(url(model, "change", row.pk))
        assert page.status_code == 200, model
        assert 'name="_save"' not in page.content.decode(), model  # read-only
        assert client.get(url(model, "add")).status_code == 403, model
        assert client.post(url(model, "delete", row.pk), {"post": "yes"}).status_code == 403, model
    assert client.get(url(DocumentRequest, "history", dw["pending"].pk)).status_code == 200
    assert (
        documents.verify_url(dw[IssuedDocument])
        in client.get(url(IssuedDocument, "change", dw[IssuedDocument].pk)).content.decode()
    )


def test_the_request_list_filters_and_searches(client, root, dw, students, location):
    client.force_login(root)
    changelist = url(DocumentRequest, "changelist")
    assert client.get(changelist).context["cl"].result_count == 3
    assert client.get(changelist, {"status__exact": "approved"}).context["cl"].result_count == 1
    assert client.get(changelist, {"type__exact": "bonafide"}).context["cl"].result_count == 2
    assert client.get(changelist, {"student__location__id__exact": str(location.pk)}).context["cl"].result_count == 3
    found = client.get(changelist, {"q": students[0].student_number}).context["cl"]
    assert found.result_count == 1
    register = client.get(url(IssuedDocument, "changelist"), {"q": students[2].last_name}).context["cl"]
    assert register.result_count == 1


def test_the_register_is_never_changed(client, root, dw):
    document = dw[IssuedDocument]
    before = IssuedDocument.objects.values().get(pk=document.pk)
    client.force_login(root)
    assert client.post(url(IssuedDocument, "change", document.pk), {"digest": "x"}).status_code == 403
    assert IssuedDocument.objects.values().get(pk=document.pk) == before


def test_approving_and_completing_from_the_admin_go_through_the_services(
    client, dw, registrar, django_capture_on_commit_callbacks
):
    clerk = admin_staff("clerk", "grading.view_documentrequest", "grading.change_documentrequest")
    client.force_login(clerk)
    changelist = url(DocumentRequest, "changelist")
    page = client.get(changelist).content.decode()
    assert 'value="approve"' in page and 'value="complete"' in page

    response = client.post(changelist, {"action": "approve", "_selected_action": [str(dw["pending"].pk)]})
    assert response.status_code == 302
    pending = DocumentRequest.objects.get(pk=dw["pending"].pk)
    assert (pending.status, pending.processed_by) == ("approved", clerk)
    assert pending.history.first().history_user == clerk

    with django_capture_on_commit_callbacks(execute=False):
        client.post(changelist, {"action": "complete", "_selected_action": [str(dw["approved"].pk)]})
    approved = DocumentRequest.objects.get(pk=dw["approved"].pk)
    assert approved.status == "completed" and approved.documents.count() == 1
    assert Job.objects.filter(kind="document", created_by=clerk).count() == 1


def test_an_out_of_order_action_is_a_message_and_writes_nothing(client, root, dw):
    client.force_login(root)
    before = sorted(DocumentRequest.objects.values_list("pk", "status"))
    response = client.post(
        url(DocumentRequest, "changelist"), {"action": "complete", "_selected_action": [str(dw["pending"].pk)]}
    )
    assert response.status_code == 302
    assert any("cannot become completed" in message for message in messages_of(response))
    assert sorted(DocumentRequest.objects.values_list("pk", "status")) == before
    assert IssuedDocument.objects.count() == 1


def test_a_viewer_reads_but_may_not_approve(client, dw):
    viewer = admin_staff(
        "viewer", "grading.view_documentrequest", "grading.view_issueddocument", "grading.view_documentvisit"
    )
    client.force_login(viewer)
    for model in MODELS:
        assert client.get(url(model, "changelist")).status_code == 200, model
        assert client.get(url(model, "change", dw[model].pk)).status_code == 200, model
    changelist = url(DocumentRequest, "changelist")
    assert 'value="approve"' not in client.get(changelist).content.decode()
    client.post(changelist, {"action": "approve", "_selected_action": [str(dw["pending"].pk)]})
    assert DocumentRequest.objects.get(pk=dw["pending"].pk).status == "pending"


def test_someone_without_document_permissions_sees_no_document_pages(client, dw):
    client.force_login(admin_staff("stranger"))
    for model in MODELS:
        assert client.get(url(model, "changelist")).status_code == 403, model
