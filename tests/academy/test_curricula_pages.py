"""Staff portal curricula pages (``academy.staff_structure_views``): every curriculum
with its levels, modules and skill areas, read only (editing stays in the admin)."""

import uuid

import pytest
from django.contrib.auth.models import Group, Permission
from django.urls import reverse

from academy.models import Curriculum, CurriculumLevel, CurriculumModule, SkillArea
from academy.roles import INSTRUCTOR
from tests.factories.academy import CourseFactory, ProgramFactory, admin_user, finance_user, staff_user

pytestmark = pytest.mark.django_db


def build_curriculum(course, *, levels=3, modules=2, name="Learn to swim"):
    """``levels`` levels of ``modules`` modules, two areas for every level and one of
    the first level only."""
    curriculum = Curriculum.objects.create(course=course, name=name, description="From first splash to 25 m.")
    made = []
    for order in range(1, levels + 1):
        level = CurriculumLevel.objects.create(curriculum=curriculum, name=f"Stage {order}", order=order)
        for m in range(1, modules + 1):
            CurriculumModule.objects.create(level=level, name=f"Block {order}.{m}", order=m)
        made.append(level)
    SkillArea.objects.create(curriculum=curriculum, name="Kicking")
    SkillArea.objects.create(curriculum=curriculum, name="Breathing", description="Out through the nose")
    SkillArea.objects.create(curriculum=curriculum, name="Entering the water", level=made[0])
    return curriculum


@pytest.fixture
def swim(db):
    course = CourseFactory(program=ProgramFactory(code="SWIM", name="Swimming"), code="SWIM-1", title="Swim school")
    return build_curriculum(course)


@pytest.fixture
def instructor(location):
    return staff_user(role=INSTRUCTOR, username="teacher", locations=[location])


def pages(curriculum) -> list[str]:
    return [reverse("staff:structure-curricula"), reverse("staff:structure-curriculum", args=[curriculum.pk])]


def test_url_names(swim):
    assert reverse("staff:structure-curricula") == "/staff/structure/curricula/"
    assert reverse("staff:structure-curriculum", args=[swim.pk]) == f"/staff/structure/curricula/{swim.pk}/"


def test_every_staff_role_reads_the_curricula(client, office, academy_admin, instructor, swim):
    for user in (office, academy_admin, instructor, finance_user(username="money")):
        client.force_login(user)
        for url in pages(swim):
            assert client.get(url).status_code == 200, (user.username, url)


def test_a_parent_is_sent_to_the_portal_and_anonymous_to_the_login(client, family, swim):
    for url in pages(swim):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"] == f"/staff/login/?next={url}"
    client.force_login(family[0].portal_user)
    for url in pages(swim):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"] == "/portal/"


def test_staff_without_the_view_permission_get_403(client, instructor, swim):
    Group.objects.get(name=INSTRUCTOR).permissions.remove(
        Permission.objects.get(content_type__app_label="academy", codename="view_curriculum")
    )
    client.force_login(instructor)
    for url in pages(swim):
        assert client.get(url).status_code == 403
    # and the structure overview no longer offers the page
    assert 'href="/staff/structure/curricula/"' not in client.get("/staff/structure/").content.decode()


def test_the_pages_are_read_only(client, academy_admin, swim):
    client.force_login(academy_admin)
    for url in pages(swim):
        assert client.post(url).status_code == 405


def test_an_unknown_curriculum_is_a_404(client, office, swim):
    client.force_login(office)
    assert client.get(reverse("staff:structure-curriculum", args=[uuid.uuid4()])).status_code == 404


def test_the_list_counts_levels_modules_and_skill_areas(client, office, swim):
    client.force_login(office)
    response = client.get(reverse("staff:structure-curricula"))
    (row,) = response.context["curricula"]
    assert (row.level_count, row.module_count, row.skill_area_count) == (3, 6, 3)
    html = response.content.decode()
    assert "Learn to swim" in html and "SWIM-1" in html and "Swimming" in html
    assert reverse("staff:structure-curriculum", args=[swim.pk]) in html
    # the structure overview and tabs lead here
    overview = client.get("/staff/structure/").content.decode()
    assert 'href="/staff/structure/curricula/"' in overview


def test_a_curriculum_shows_its_levels_in_order_with_modules_and_skill_areas(client, office, swim):
    client.force_login(office)
    response = client.get(reverse("staff:structure-curriculum", args=[swim.pk]))
    html = response.content.decode()
    assert [row.level.name for row in response.context["levels"]] == ["Stage 1", "Stage 2", "Stage 3"]
    assert html.index("Stage 1") < html.index("Stage 2") < html.index("Stage 3")
    assert html.index("Block 1.1") < html.index("Block 1.2") < html.index("Block 2.1")
    every_level = html.split('data-testid="every-level-areas"')[1].split("</section>")[0]
    assert "Breathing" in every_level and "Kicking" in every_level and "Entering the water" not in every_level
    first_level = html.split("1. Stage 1")[1].split("</section>")[0]
    assert "Entering the water" in first_level
    assert "Out through the nose" in html
    assert "From first splash to 25 m." in html
    assert '<a href="/staff/structure/" aria-current="page">Academy structure</a>' in html
    assert 'href="/staff/structure/curricula/" aria-current="page">Curricula</a>' in html


def test_edit_in_admin_links_only_for_django_admin_users(client, office, swim):
    client.force_login(admin_user(username="root", is_staff=True, is_superuser=True))
    html = client.get(reverse("staff:structure-curriculum", args=[swim.pk])).content.decode()
    assert f'href="/admin/academy/curriculum/{swim.pk}/change/"' in html
    html = client.get(reverse("staff:structure-curricula")).content.decode()
    assert 'href="/admin/academy/curriculum/"' in html
    client.force_login(office)
    for url in pages(swim):
        assert "/admin/" not in client.get(url).content.decode()


def test_fixed_query_counts(client, office, swim, django_assert_max_num_queries):
    client.force_login(office)
    detail = reverse("staff:structure-curriculum", args=[swim.pk])
    counts = {}
    for url in pages(swim):
        client.get(url)
        with django_assert_max_num_queries(20) as small:
            client.get(url)
        counts[url] = len(small.captured_queries)
    # given more curricula, and a longer ladder in this one
    for n in range(6):
        build_curriculum(CourseFactory(), levels=2, modules=3, name=f"Other {n}")
    for order in range(4, 10):
        level = CurriculumLevel.objects.create(curriculum=swim, name=f"Stage {order}", order=order)
        CurriculumModule.objects.create(level=level, name=f"Block {order}.1", order=1)
        SkillArea.objects.create(curriculum=swim, name=f"Skill {order}", level=level)
    for url in pages(swim):
        with django_assert_max_num_queries(counts[url]):
            response = client.get(url)
    assert len(response.context["levels"]) == 9 and response.request["PATH_INFO"] == detail
    assert client.get(pages(swim)[0]).content.decode().count('data-testid="structure-row"') == 7
