from django.conf import settings


def academy(request):
    return {"CURRENCY": settings.CURRENCY, "ACADEMY_NAME": settings.ACADEMY_NAME}
