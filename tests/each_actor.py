"""Permission matrices: one test per operation, every actor inside it.

Each actor's call runs in a savepoint that is rolled back after it, so every actor meets
the same database, as a test of its own would, while the operation's world is built
once instead of once per actor (most of a matrix's time was building it). A failure
names every actor whose answer was not the expected one, not only the first."""

from collections.abc import Callable, Iterable

from django.db import transaction


def assert_for_each_actor(actors: Iterable[str], check: Callable[[str], None]) -> None:
    """Run ``check(actor)`` for each actor, each in its own rolled-back savepoint; fail
    with every actor's assertion message if any failed."""
    failures = []
    for actor in actors:
        with transaction.atomic():
            try:
                check(actor)
            except AssertionError as error:
                failures.append(f"{actor}: {error}")
            transaction.set_rollback(True)
    assert not failures, "\n\n".join(failures)
