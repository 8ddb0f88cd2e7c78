from celery import shared_task


@shared_task(name="families.password_reset_send", ignore_result=True)
def password_reset_send_task(email: str, base_url: str) -> int:
    """Send the reset link to every active parent with ``email`` (none for an unknown
    address). Queued by the reset form, so the page costs the same for any address."""
    from families.selectors import guardians_for_password_reset
    from families.services import guardian_password_reset_send

    return sum(
        guardian_password_reset_send(guardian=guardian, base_url=base_url)
        for guardian in guardians_for_password_reset(email=email)
    )
