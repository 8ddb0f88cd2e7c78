import pytest

from tests.factories.academy import finance_user
from tests.factories.families import StudentFactory
from tests.finance.api_fixtures import as_user, client_for, money, roles  # noqa: F401 (fixtures of the API tests)


@pytest.fixture
def cashier(db):
    return finance_user(username="cashier")


@pytest.fixture
def approver(db):
    return finance_user(username="approver")


@pytest.fixture
def student(db, location):
    return StudentFactory(location=location)
