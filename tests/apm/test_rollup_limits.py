"""Per-app limits of what ingest creates (tenants/limits.py): transaction names past their limit
fold into "(other)", error groups into "(other errors)" — counted, never dropped — and both hold
when two consumers create at the same moment (real parallel transactions)."""

import json
import time
from types import SimpleNamespace

import pytest
from django.db import connection, transaction

from apm.models import ErrorGroup, ErrorMinute, ErrorSample, Operation, Transaction
from apm.rollup import names
from apm.rollup.errors import OTHER_ERRORS, OTHER_FINGERPRINT, write_errors
from contract.schema import decode_payload
from tests.concurrency import run_together
from tests.ingest import payloads as P
from tests.ingest.conftest import drain
from tests.ingest.test_pipeline import post


def _groups(org):
    return {g.error_class: g.count for g in ErrorGroup.objects.for_org(org)}


@pytest.mark.django_db
def test_error_groups_past_the_limit_fold_into_one_group_and_nothing_is_dropped(client, org, ingest_key, consumer,
                                                                                 settings):
    settings.ERROR_GROUPS_PER_APP_LIMIT = 2
    now = time.time() - 30
    first = [P.error(f"app.Error{k}", "boom", now + k) for k in range(3)] + [P.error("app.Error0", "boom", now + 5)]
    assert post(client, ingest_key, P.payload("shop", errors=first)).status_code == 202
    drain(consumer)
    # The two first seen keep their groups; the third folds.
    assert _groups(org) == {"app.Error0": 2, "app.Error1": 1, OTHER_ERRORS: 1}
    later = [P.error("app.Error3", "boom", now + 10), P.error("app.Error1", "boom", now + 11),
             P.error("app.Error2", "boom", now + 12)]
    assert post(client, ingest_key, P.payload("shop", errors=later)).status_code == 202
    drain(consumer)
    assert _groups(org) == {"app.Error0": 2, "app.Error1": 2, OTHER_ERRORS: 3}
    other = ErrorGroup.objects.for_org(org).get(fingerprint=OTHER_FINGERPRINT)
    # Its samples keep what each error really was.
    samples = ErrorSample.objects.for_org(org).filter(group=other)
    assert set(samples.values_list("error_class", flat=True)) == {"app.Error2", "app.Error3"}
    assert sum(ErrorMinute.objects.for_org(org).filter(group=other).values_list("count", flat=True)) == 3


def _batch(org, app, classes):
    raw = json.dumps(P.payload("shop", errors=[P.error(c, "boom", time.time() - 30) for c in classes])).encode()
    return [(SimpleNamespace(app_id=str(app.id), org_id=org.pk), decode_payload(raw))]


def _write(todo):
    with transaction.atomic(), connection.cursor() as cur:
        write_errors(cur, todo)


@pytest.mark.django_db(transaction=True)
def test_two_consumers_creating_error_groups_at_once_stay_within_the_limit(org, app, settings):
    settings.ERROR_GROUPS_PER_APP_LIMIT = 3
    a = _batch(org, app, [f"a.Error{k}" for k in range(3)])
    b = _batch(org, app, [f"b.Error{k}" for k in range(3)])
    results = run_together(lambda: _write(a), lambda: _write(b))
    assert results == [None, None]
    groups = _groups(org)
    assert len(groups) == 4 and groups[OTHER_ERRORS] == 3
    assert sum(groups.values()) == 6


@pytest.mark.django_db(transaction=True)
def test_two_consumers_creating_transaction_names_at_once_stay_within_the_limit(org, app, settings):
    settings.TRANSACTIONS_PER_APP_LIMIT = 3
    names.clear_cache()
    mine = [("web", f"a{k}") for k in range(3)]
    theirs = [("web", f"b{k}") for k in range(3)]
    results = run_together(
        lambda: names.transaction_ids(org.pk, str(app.id), mine),
        lambda: names.transaction_ids(org.pk, str(app.id), theirs),
    )
    rows = set(Transaction.objects.for_org(org).values_list("name", flat=True))
    assert names.OTHER in rows and len(rows - {names.OTHER}) == 3
    other_id = Transaction.objects.for_org(org).get(name=names.OTHER).id
    # Every name got an id: its own row, or "(other)".
    assert sum(ids[k] == other_id for ids, asked in zip(results, (mine, theirs)) for k in asked) == 3
    names.clear_cache()


@pytest.mark.django_db(transaction=True)
def test_two_consumers_creating_operations_at_once_stay_within_the_limit(org, app, settings):
    settings.OPERATIONS_PER_APP_LIMIT = 3
    names.clear_cache()
    mine = [("database", "postgresql", "SELECT", f"a{k}") for k in range(3)]
    theirs = [("external", f"b{k}.example.com", "GET", "") for k in range(3)]
    results = run_together(
        lambda: names.operation_ids(org.pk, str(app.id), mine),
        lambda: names.operation_ids(org.pk, str(app.id), theirs),
    )
    rows = [o.operation for o in Operation.objects.for_org(org)]
    assert len([r for r in rows if r != names.OTHER]) == 3 and names.OTHER in rows
    other_ids = set(Operation.objects.for_org(org).filter(operation=names.OTHER).values_list("id", flat=True))
    # Every operation got an id: its own row, or its kind's "(other)".
    assert sum(ids[k] in other_ids for ids, asked in zip(results, (mine, theirs)) for k in asked) == 3
    # once known, an operation keeps its id without a query
    # (the first answer may also name the kind's "(other)" row it created meanwhile)
    again = names.operation_ids(org.pk, str(app.id), mine)
    assert {k: again[k] for k in mine} == {k: results[0][k] for k in mine}
    names.clear_cache()
