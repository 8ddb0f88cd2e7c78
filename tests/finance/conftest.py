import pytest

from tests.factories.academy import finance_user
from tests.factories.families import StudentFactory


@pytest.fixture
def cashier(db):
    return finance_user(username="cashier")


@pytest.fixture
def approver(db):
    return finance_user(username="approver")


@pytest.fixture
def student(db, location):
    return StudentFactory(location=location)
