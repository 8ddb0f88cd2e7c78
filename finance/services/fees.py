"""Fee types and fee structures: what the academy charges for, and how much, to whom."""

from django.core.exceptions import ValidationError
from django.db import transaction

from academy.common.services import assign_fields, validated_save
from finance.models import FeeStructure, FeeType

FEE_TYPE_FIELDS = {"code", "name", "is_active"}
FEE_STRUCTURE_FIELDS = {
    "name",
    "location",
    "academic_year",
    "term",
    "grade_level",
    "program",
    "course",
    "fee_type",
    "amount",
    "frequency",
    "due_days",
    "is_active",
}


@transaction.atomic
def fee_type_save(*, actor, data: dict, fee_type: FeeType | None = None) -> FeeType:
    """Create a fee type (``fee_type`` empty) or change one. Codes are upper case and
    unique; a code already used is a field error."""
    fee_type = fee_type or FeeType()
    data = dict(data)
    if "code" in data:
        data["code"] = (data["code"] or "").strip().upper()
    assign_fields(fee_type, data, allowed=FEE_TYPE_FIELDS)
    return validated_save(fee_type, actor=actor, reason="Created" if fee_type._state.adding else "Changed")


@transaction.atomic
def fee_structure_save(*, actor, data: dict, structure: FeeStructure | None = None) -> FeeStructure:
    """Create a fee structure or change one. At most one active structure per scope
    (location, year, term, grade, programme, course) and fee type: a second one is a
    field error, checked under a lock on the scope's existing structures so two
    concurrent requests cannot both pass; the database constraint backs it up."""
    structure = structure or FeeStructure()
    adding = structure._state.adding
    if not adding:
        structure = FeeStructure.objects.select_for_update().get(pk=structure.pk)
    assign_fields(structure, dict(data), allowed=FEE_STRUCTURE_FIELDS)
    if (
        structure.term_id
        and structure.academic_year_id
        and structure.term.academic_year_id != structure.academic_year_id
    ):
        raise ValidationError({"term": ["The term is not in the academic year."]})
    if structure.is_active:
        same_scope = FeeStructure.objects.select_for_update().filter(
            location_id=structure.location_id,
            academic_year_id=structure.academic_year_id,
            term_id=structure.term_id,
            grade_level_id=structure.grade_level_id,
            program_id=structure.program_id,
            course_id=structure.course_id,
            fee_type_id=structure.fee_type_id,
            is_active=True,
        )
        if not adding:
            same_scope = same_scope.exclude(pk=structure.pk)
        if same_scope.exists():
            raise ValidationError({"fee_type": ["An active fee structure for this scope and fee type already exists."]})
    # the generated scope key cannot be computed before saving: the check above stands in
    return validated_save(structure, actor=actor, reason="Created" if adding else "Changed", exclude=["scope_key"])
