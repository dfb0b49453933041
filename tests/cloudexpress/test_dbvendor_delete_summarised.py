"""dbvendor.delete_summarised: the keys it reports are exactly the rows gone,
on the dense fast path, after its fallback, and with gaps."""

from __future__ import annotations

import pytest
from django.db import connection, connections, transaction

from cloudexpress import dbvendor
from compliance.models import ApiUsage
from tests import factories

pytestmark = pytest.mark.django_db


def _rows(count: int) -> list[int]:
    organization = factories.OrganizationFactory()
    ApiUsage.objects.bulk_create(
        ApiUsage(organization=organization, endpoint=f"GET /{i}", day="2020-01-01")
        for i in range(count)
    )
    return list(ApiUsage.objects.order_by("pk").values_list("pk", flat=True))


def _delete(after: int, upper: int, *, key_range: bool) -> list[list[int]]:
    table = connection.ops.quote_name(ApiUsage._meta.db_table)
    with transaction.atomic():
        return dbvendor.delete_summarised(
            table,
            '"id"',
            '"id" > %s AND "id" <= %s AND "day" < %s',
            [after, upper, "2021-01-01"],
            key_range=(after, upper) if key_range else None,
        )


def _remaining() -> list[int]:
    return list(ApiUsage.objects.order_by("pk").values_list("pk", flat=True))


@pytest.mark.parametrize("key_range", [True, False])
def test_a_dense_range_is_reported_as_one_run(key_range: bool) -> None:
    keys = _rows(6)
    assert _delete(keys[0] - 1, keys[3], key_range=key_range) == [[keys[0], keys[3]]]
    assert _remaining() == keys[4:]


@pytest.mark.parametrize("key_range", [True, False])
def test_gaps_and_kept_rows_give_exact_runs(key_range: bool) -> None:
    keys = _rows(8)
    ApiUsage.objects.filter(pk=keys[2]).delete()  # a gap
    ApiUsage.objects.filter(pk=keys[5]).update(day="2022-01-01")  # kept: not expired

    runs = _delete(keys[0] - 1, keys[7], key_range=key_range)

    assert runs == [[keys[0], keys[1]], [keys[3], keys[4]], [keys[6], keys[7]]]
    assert _remaining() == [keys[5]]


def test_nothing_to_delete_reports_nothing() -> None:
    keys = _rows(2)
    assert _delete(keys[-1], keys[-1] + 10, key_range=True) == []
    assert _remaining() == keys


@pytest.mark.django_db(transaction=True, databases=["default", "sqlite"])
def test_the_sqlite_path_reports_the_same_runs() -> None:
    sqlite = connections["sqlite"]
    assert not dbvendor.is_postgresql("sqlite")
    with sqlite.cursor() as cursor:
        cursor.execute("CREATE TABLE scratch_rows (id INTEGER PRIMARY KEY, old INTEGER)")
        cursor.executemany(
            "INSERT INTO scratch_rows (id, old) VALUES (%s, %s)",
            [(i, 0 if i == 4 else 1) for i in range(1, 9) if i != 3],
        )
    try:
        with transaction.atomic(using="sqlite"):
            runs = dbvendor.delete_summarised(
                '"scratch_rows"',
                '"id"',
                '"id" > %s AND "id" <= %s AND "old" = 1',
                [0, 8],
                key_range=(0, 8),
                using="sqlite",
            )
        assert runs == [[1, 2], [5, 8]]
        with sqlite.cursor() as cursor:
            cursor.execute("SELECT id FROM scratch_rows")
            assert [row[0] for row in cursor.fetchall()] == [4]
    finally:
        with sqlite.cursor() as cursor:
            cursor.execute("DROP TABLE scratch_rows")
