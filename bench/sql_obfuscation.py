"""SQL obfuscation: microseconds per statement, the previous single regex against the
per-dialect lexer (``pulse_agent.sql``), on statements Django's ORM really sends.
Prints figures; asserts nothing.

    python bench/sql_obfuscation.py [--rounds 15] [--postgres "host=127.0.0.1 user=postgres dbname=postgres"]

The statements are captured from Django 5.2 running a shop-like workload (create,
get, filters with IN/LIKE/ranges, joins, aggregates, prefetches, bulk inserts,
updates, deletes) on SQLite and on PostgreSQL, both as the agent sees them
(``%s`` placeholders, what Django hands to its cursor) and as ``connection.queries``
shows them (parameters interpolated, so with literals), and a third of each set gets
a sqlcommenter-style comment. The PostgreSQL run creates its tables inside a
transaction that is rolled back. The previous obfuscator is loaded from git (the
parent of the commit that removed ``agent/pulse_agent/obfuscate.py``); rounds
interleave every variant and the figure is the median over rounds.
"""

import argparse
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "agent"))

from pulse_agent.sql import obfuscate_sql  # noqa: E402

OLD_PATH = "agent/pulse_agent/obfuscate.py"
SQLCOMMENTER = (
    " /*action='checkout',controller='shop',db_driver='django.db.backends.%s',"
    "framework='django%%3A5.2',route='%%5Eshop%%2F%%28%%3FP%%3Cpk%%3E%%5B0-9%%5D%%2B%%29%%2F%%24',"
    "traceparent='00-5bd66ef5095369c7b0d1f8f4bd33716a-c532cb4098ac3dd2-01'*/"
)


def load_old_obfuscator():
    """The single-regex module as it was before the lexer replaced it."""
    removed = subprocess.run(
        ["git", "-C", ROOT, "rev-list", "-n", "1", "HEAD", "--", OLD_PATH],
        capture_output=True, text=True, check=True,
    ).stdout.strip()
    source = subprocess.run(
        ["git", "-C", ROOT, "show", "%s^:%s" % (removed, OLD_PATH)] if removed else
        ["git", "-C", ROOT, "show", "HEAD:" + OLD_PATH],
        capture_output=True, text=True, check=True,
    ).stdout
    path = os.path.join(tempfile.mkdtemp(), "old_obfuscate.py")
    with open(path, "w") as f:
        f.write(source)
    spec = importlib.util.spec_from_file_location("old_obfuscate", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.obfuscate_sql


# -- the workload -------------------------------------------------------------------


def setup_django(pg_dsn):
    import django
    from django.conf import settings

    params = dict(p.split("=", 1) for p in pg_dsn.split())
    settings.configure(
        DEBUG=True,
        SECRET_KEY="bench",
        USE_TZ=True,
        INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth"],
        DATABASES={
            "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"},
            "pg": {
                "ENGINE": "django.db.backends.postgresql",
                "NAME": params.get("dbname", "postgres"),
                "USER": params.get("user", "postgres"),
                "HOST": params.get("host", "127.0.0.1"),
                "PORT": params.get("port", "5432"),
                "PASSWORD": params.get("password", ""),
            },
        },
    )
    django.setup()


def define_models():
    from django.db import models

    class Customer(models.Model):
        email = models.EmailField()
        name = models.CharField(max_length=100)
        joined = models.DateTimeField()

        class Meta:
            app_label = "auth"

    class Product(models.Model):
        sku = models.CharField(max_length=32)
        title = models.CharField(max_length=200)
        price = models.DecimalField(max_digits=10, decimal_places=2)
        active = models.BooleanField(default=True)

        class Meta:
            app_label = "auth"

    class Order(models.Model):
        customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="orders")
        placed = models.DateTimeField()
        note = models.TextField(blank=True)

        class Meta:
            app_label = "auth"

    class Line(models.Model):
        order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
        product = models.ForeignKey(Product, on_delete=models.CASCADE)
        quantity = models.IntegerField()

        class Meta:
            app_label = "auth"

    return Customer, Product, Order, Line


def shop_workload(using, Customer, Product, Order, Line):
    import datetime
    from decimal import Decimal

    from django.db.models import Count, F, Q, Sum

    now = datetime.datetime(2025, 5, 17, 12, 30, tzinfo=datetime.timezone.utc)
    alice = Customer.objects.using(using).create(email="alice@example.com", name="Alice O'Brien", joined=now)
    products = Product.objects.using(using).bulk_create(
        [Product(sku="SKU-%04d" % i, title="Widget %d" % i, price=Decimal("9.99") + i) for i in range(12)]
    )
    order = Order.objects.using(using).create(customer=alice, placed=now, note="leave at the door, code 4711")
    Line.objects.using(using).bulk_create([Line(order=order, product=p, quantity=i + 1) for i, p in enumerate(products[:5])])
    Customer.objects.using(using).get(pk=alice.pk)
    Customer.objects.using(using).filter(email__iexact="ALICE@example.com").exists()
    list(Product.objects.using(using).filter(active=True, price__gte=Decimal("10.50")).order_by("-price")[:5])
    list(Product.objects.using(using).filter(sku__in=["SKU-0001", "SKU-0002", "SKU-0007"]).values_list("id", "title"))
    list(Product.objects.using(using).filter(Q(title__icontains="widget") | Q(sku__startswith="SKU-00")).only("id"))
    list(Order.objects.using(using).select_related("customer").filter(placed__range=(now - datetime.timedelta(days=7), now)))
    list(Customer.objects.using(using).prefetch_related("orders__lines").all())
    Order.objects.using(using).filter(customer=alice).annotate(n=Count("lines"), total=Sum("lines__quantity")).first()
    Line.objects.using(using).filter(order=order).aggregate(Sum("quantity"))
    Product.objects.using(using).filter(pk=products[0].pk).update(price=F("price") * Decimal("1.10"))
    Order.objects.using(using).filter(pk=order.pk).update(note="")
    Line.objects.using(using).filter(quantity__lt=2).delete()
    list(Product.objects.using(using).filter(pk__in=Line.objects.using(using).values("product_id")).distinct())


def capture(using, models):
    """(statements as Django hands them to its cursor, statements as connection.queries shows them)."""
    from django.db import connections, transaction

    conn = connections[using]
    sent = []

    def record(execute, sql, params, many, context):
        sent.append(sql)
        return execute(sql, params, many, context)

    # SQLite's schema editor refuses to run inside a transaction; its database is in
    # memory anyway. PostgreSQL's DDL is transactional: everything is rolled back.
    in_memory = conn.vendor == "sqlite"
    if in_memory:
        with conn.schema_editor() as editor:
            for model in models:
                editor.create_model(model)
    try:
        with transaction.atomic(using=using):
            if not in_memory:
                with conn.schema_editor(atomic=False) as editor:
                    for model in models:
                        editor.create_model(model)
            conn.queries_log.clear()
            with conn.execute_wrapper(record):
                shop_workload(using, *models)
            logged = [q["sql"] for q in conn.queries]
            raise _RollBack
    except _RollBack:
        pass
    return sent, logged


class _RollBack(Exception):
    pass


def statements(pg_dsn):
    setup_django(pg_dsn)
    models = define_models()
    out = {}
    for using, system, vendor in (("default", "sqlite", "sqlite3"), ("pg", "postgresql", "postgresql")):
        try:
            sent, logged = capture(using, models)
        except Exception as e:  # no PostgreSQL here: measure SQLite alone
            print("skipping %s: %s" % (system, e))
            continue
        mix = sent + logged
        comment = SQLCOMMENTER % vendor
        out[system] = [sql + comment if i % 3 == 0 else sql for i, sql in enumerate(mix)]
    return out


# -- timing -------------------------------------------------------------------------


def per_statement_us(fn, stmts, repeat):
    t0 = time.perf_counter()
    for _ in range(repeat):
        for sql in stmts:
            fn(sql)
    return (time.perf_counter() - t0) / (repeat * len(stmts)) * 1e6


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--repeat", type=int, default=200, help="passes over the statements per round")
    ap.add_argument("--postgres", default="host=127.0.0.1 user=postgres dbname=postgres")
    args = ap.parse_args()

    old = load_old_obfuscator()
    sets = statements(args.postgres)
    variants = [("old regex", None)] + [
        ("%s rules" % name, system)
        for name, system in (("sqlite", "sqlite"), ("postgresql", "postgresql"), ("mysql", "mysql"),
                             ("oracle", "oracle"), ("strict", None))
    ]
    times = {(s, v): [] for s in sets for v, _ in variants}
    for _ in range(args.rounds):
        for set_name, stmts in sets.items():
            for label, system in variants:
                fn = old if label == "old regex" else (lambda sql, _s=system: obfuscate_sql(sql, _s))
                times[set_name, label].append(per_statement_us(fn, stmts, args.repeat))

    print("Python %s, %d rounds x %d passes, median us per statement"
          % (sys.version.split()[0], args.rounds, args.repeat))
    for set_name, stmts in sets.items():
        chars = statistics.mean(len(s) for s in stmts)
        print("\n%s: %d statements from Django's ORM, %.0f chars on average"
              % (set_name, len(stmts), chars))
        base = statistics.median(times[set_name, "old regex"])
        for label, _ in variants:
            t = statistics.median(times[set_name, label])
            mark = "  <- its own dialect" if label.startswith(set_name) else ""
            print("  %-18s %7.2f us  (%.2fx old)%s" % (label, t, t / base, mark))


if __name__ == "__main__":
    main()
