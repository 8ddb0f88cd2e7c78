from celery import shared_task

from notifications import services

MAX_ATTEMPTS = 5


# ignore_result: nobody waits on a delivery (its row says how it went); without it the
# Redis result backend subscribes to a result channel on every send.
@shared_task(
    bind=True, name="notifications.delivery_send", max_retries=MAX_ATTEMPTS - 1, acks_late=True, ignore_result=True
)
def delivery_send_task(self, delivery_pk: str) -> str:
    """Send one delivery. Claimed before sending, so a duplicate or retried message never
    sends twice; a gateway error is retried with backoff, then recorded as Failed."""
    delivery = services.delivery_claim(delivery_pk=delivery_pk)
    if delivery is None:
        return "already handled"
    try:
        services.delivery_send(delivery=delivery)
    except Exception as error:  # any gateway or SMTP error: record it, then retry or fail
        final = self.request.retries >= self.max_retries
        services.delivery_record_result(delivery_pk=delivery_pk, error=f"{type(error).__name__}: {error}", final=final)
        if final:
            return "failed"
        if self.request.is_eager:  # embedded default without a broker: retry at once, in-process
            return delivery_send_task.apply(args=[delivery_pk], retries=self.request.retries + 1).get()
        raise self.retry(exc=error, countdown=min(2 ** (self.request.retries + 1) * 30, 3600)) from error
    services.delivery_record_result(delivery_pk=delivery_pk)
    return "sent"


@shared_task(name="notifications.deliveries_resend")
def deliveries_resend_task() -> dict:
    return services.deliveries_resend()
