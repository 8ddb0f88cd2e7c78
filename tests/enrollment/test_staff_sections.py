"""The staff portal's sections page counts real enrollments, held offers and the line."""

import pytest
from django.urls import reverse

from enrollment import services

pytestmark = pytest.mark.django_db


def test_sections_page_shows_enrolled_seats_left_and_waitlist(client, office, make_section, make_student):
    section = make_section(capacity=2)
    for _ in range(2):
        services.enroll(student=make_student(), section=section, actor=office)
    services.enroll(student=make_student(), section=section, actor=office, waitlist=True)
    roomy = make_section(capacity=5)
    services.enroll(student=make_student(), section=roomy, actor=office)

    client.force_login(office)
    body = client.get(reverse("staff:structure-sections")).content.decode()
    rows = {
        row.split("<strong>")[1].split("</strong>")[0]: row for row in body.split('data-testid="structure-row"')[1:]
    }
    full = rows[f"{section.course.code}-{section.code}"]
    assert '<td class="num">2</td>' in full and "Full" in full
    assert '<td class="num" data-testid="waitlist">1</td>' in full
    open_row = rows[f"{roomy.course.code}-{roomy.code}"]
    assert '<td class="num">1</td>' in open_row and 'data-testid="seats-left">4<' in open_row


def test_sections_page_takes_a_fixed_number_of_queries(
    client, office, make_section, make_student, django_assert_max_num_queries
):
    client.force_login(office)
    url = reverse("staff:structure-sections")
    make_section(capacity=3)
    client.get(url)
    with django_assert_max_num_queries(12) as small:
        client.get(url)
    for _ in range(5):
        services.enroll(student=make_student(), section=make_section(capacity=3), actor=office)
    with django_assert_max_num_queries(len(small.captured_queries)):
        client.get(url)
