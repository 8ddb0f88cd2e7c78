"""The parent portal's pages that live in families (below enrollment) ask enrollment
here: ``{% child_waitlist_count child as count %}`` is how many places in line the
child holds that the signed-in user may see (one query)."""

from django import template

from enrollment.selectors import waitlist_list

register = template.Library()


@register.simple_tag(takes_context=True)
def child_waitlist_count(context, child) -> int:
    request = context.get("request")
    if request is None or child is None:
        return 0
    return waitlist_list(user=request.user).live().filter(student_id=child.pk).count()
