"""Finance policies: per location, what an unpaid balance blocks, the amount above which
an adjustment needs a second person and the late fee. The staff portal and the admin
save them through ``finance_policy_save`` alone."""

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from academy.common.exceptions import Conflict
from academy.common.money import money_parse
from academy.common.services import assign_fields, validated_save
from finance.models import FinancePolicy

MONEY_FIELDS = ("hold_threshold", "adjustment_approval_threshold", "late_fee_amount")
POLICY_FIELDS = {
    *MONEY_FIELDS,
    "block_transcripts",
    "block_results",
    "block_enrollment",
    "late_fee_grace_days",
}


def _parsed(data: dict) -> dict:
    """Money typed as text goes through the one money parser; its error names the field."""
    data = dict(data)
    errors = {}
    for name in MONEY_FIELDS:
        if data.get(name) is not None:
            try:
                data[name] = money_parse(data[name])
            except ValidationError as error:
                errors[name] = error.messages
    if errors:
        raise ValidationError(errors)
    return data


@transaction.atomic
def finance_policy_save(*, location, actor, data: dict) -> FinancePolicy:
    """Create the finance policy of ``location`` or change it (one per location). Only
    the policy's own fields may be set; every rule of the model (amounts not negative,
    grace days within a year) is checked by ``full_clean`` before anything is written,
    and the acting user and what changed are recorded in its history.

    The existing row is locked while it changes; two first saves for one location at
    the same time meet on the one-to-one column, and the second answers 409
    ``policy_changed`` (nothing written) instead of failing."""
    unknown = set(data) - POLICY_FIELDS
    if unknown:
        raise ValueError(f"cannot set {sorted(unknown)} on a finance policy")
    data = _parsed(data)
    policy = FinancePolicy.objects.select_for_update().filter(location=location).first()
    adding = policy is None
    if adding:
        policy = FinancePolicy(location=location)
    before = {name: getattr(policy, name) for name in sorted(POLICY_FIELDS)}
    assign_fields(policy, data, allowed=POLICY_FIELDS)
    changed = [name for name, value in before.items() if getattr(policy, name) != value]
    reason = "Created" if adding else f"Changed: {', '.join(changed)}" if changed else "Saved unchanged"
    try:
        with transaction.atomic():
            validated_save(policy, actor=actor, reason=reason)
    except IntegrityError:
        raise Conflict(
            "The policy of this location was saved by someone else at the same time: open it again.",
            code="policy_changed",
        ) from None
    return policy
