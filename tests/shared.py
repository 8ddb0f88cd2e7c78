"""A module's world built once, not once per test.

Most of the suite's set-up time went to building the same small academy again before
every test of a module (the ``money`` academy: three invoices, two payments, an
adjustment, a billing run; about 100 ms a test). ``share_per_module`` builds a module's
fixtures once, inside a transaction that stays open for the module and is rolled back
after its last test, and gives each test its own copy:

    from tests.conftest import location, office
    from tests.finance.api_fixtures import money, roles
    from tests.shared import share_per_module

    share_per_module(globals(), location, office, roles, money)

- Each named fixture gets a module-scoped twin that runs the same function once, with
  every argument that is itself shared taken from its twin (and ``db`` from the
  module's open transaction). Every function-scoped fixture it needs must be shared
  too: pytest refuses the scope mismatch otherwise.
- The fixture the tests see returns a deep copy of the twin's value, made afresh for
  each test with one memo for all of that test's copies: ``money.location`` is the
  object ``location`` returns, and nothing a test does to an object reaches the next
  test. The rows a test writes are rolled back with its own savepoint, as always.
- Every shared fixture is built before the module's first test, whether a test asks for
  it or not: each test of the module sees the same rows, however the tests are chosen
  or ordered. A test that needs a table empty of them belongs in another module.
- The cache is cleared before each test: what a test cached (a user's grants after it
  changed their roles) must not outlive the rows it was read from.

Only for modules whose tests all run in a transaction (``db``): a transactional test
(a live server, a browser, a real worker) would flush the shared rows, so it refuses.
"""

import copy
import inspect

import pytest
from django.core.cache import cache
from django.db import connection, transaction

SUFFIX = "__module"


@pytest.fixture(scope="module")
def module_db(django_db_setup, django_db_blocker):
    """A transaction open for the whole module, rolled back after its last test."""
    with django_db_blocker.unblock():
        if connection.in_atomic_block:
            raise RuntimeError("module_db must open the outermost transaction; a test's was already open")
        atomic = transaction.atomic()
        atomic.__enter__()
    try:
        yield
    finally:
        with django_db_blocker.unblock():
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)


@pytest.fixture
def module_copies(db):
    """The deep-copy memo of this test's copies; the cache starts empty."""
    cache.clear()
    return {}


@pytest.fixture(autouse=True)
def module_tests_not_transactional(request):
    """Every test of a module that shares rows runs in a transaction of its own."""
    marker = request.node.get_closest_marker("django_db")
    transactional = marker is not None and (marker.kwargs.get("transaction") or (marker.args and marker.args[0]))
    if transactional or {"transactional_db", "live_server"} & set(request.fixturenames):
        raise RuntimeError(f"{request.node.nodeid}: a transactional test cannot run where the module shares rows")


def _module_twin(name: str, function, shared: set[str]):
    """``function`` as a module-scoped fixture named ``name + SUFFIX``."""
    parameters = list(inspect.signature(function).parameters)

    def argument(parameter: str) -> str:
        if parameter == "db":
            return "module_db"
        return parameter + SUFFIX if parameter in shared else parameter

    arguments = [argument(parameter) for parameter in parameters]

    def build(django_db_blocker, **values):
        with django_db_blocker.unblock():
            value = function(**{p: values[a] for p, a in zip(parameters, arguments, strict=True)})
            if inspect.isgenerator(value):
                raise TypeError(f"{name}: a fixture that yields cannot be shared")
            return value

    # pytest reads the arguments from the signature
    build.__signature__ = inspect.Signature(
        [inspect.Parameter(a, inspect.Parameter.KEYWORD_ONLY) for a in ["django_db_blocker", *dict.fromkeys(arguments)]]
    )
    build.__name__ = name + SUFFIX
    return pytest.fixture(scope="module", name=name + SUFFIX)(build)


def _per_test_copy(name: str):
    def copied(module_copies, **values):
        return copy.deepcopy(values[name + SUFFIX], module_copies)

    copied.__signature__ = inspect.Signature(
        [
            inspect.Parameter("module_copies", inspect.Parameter.POSITIONAL_OR_KEYWORD),
            inspect.Parameter(name + SUFFIX, inspect.Parameter.KEYWORD_ONLY),
        ]
    )
    copied.__name__ = name
    return pytest.fixture(name=name)(copied)


def share_per_module(namespace: dict, *fixtures) -> None:
    """Build ``fixtures`` once for the module whose ``globals()`` is ``namespace``."""
    functions = {fixture.name: fixture._get_wrapped_function() for fixture in fixtures}
    namespace["module_db"] = module_db
    namespace["module_copies"] = module_copies
    namespace["module_tests_not_transactional"] = module_tests_not_transactional
    for name, function in functions.items():
        namespace[name + SUFFIX] = _module_twin(name, function, set(functions))
        namespace[name] = _per_test_copy(name)
    namespace["module_world"] = _module_world(functions)


def _module_world(names):
    """Every shared fixture built before the module's first test, so every test of the
    module sees the same rows, whichever fixtures it asks for and whichever tests run."""

    def built(**twins):
        return twins

    built.__signature__ = inspect.Signature(
        [inspect.Parameter(name + SUFFIX, inspect.Parameter.KEYWORD_ONLY) for name in names]
    )
    return pytest.fixture(scope="module", autouse=True, name="module_world")(built)
