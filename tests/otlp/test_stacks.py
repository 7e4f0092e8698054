"""Stack trace texts of several languages → frames, outermost first (the top frame last)."""

from ingest.otlp.stacks import frames

PYTHON = '''Traceback (most recent call last):
  File "/srv/app.py", line 10, in handler
    return pay(order)
  File "/srv/pay.py", line 3, in pay
    raise ValueError("declined")
ValueError: declined
'''
NODE = '''Error: kaboom in express
    at /srv/app/service.js:21:11
    at Layer.handle [as handle_request] (/srv/node_modules/express/lib/router/layer.js:95:5)
    at next (/srv/node_modules/express/lib/router/route.js:149:13)'''
JAVA = '''java.lang.IllegalStateException: closed
\tat com.shop.Cart.checkout(Cart.java:42)
\tat com.shop.Api.post(Api.java:17)
\tat java.base/java.lang.Thread.run(Thread.java:1583)'''
GO = '''goroutine 1 [running]:
main.pay(0x1)
\t/srv/pay.go:12 +0x1d
main.main()
\t/srv/main.go:8 +0x25'''


def as_tuples(text):
    return [(f.file, f.line, f.function) for f in frames(text)]


def test_python_keeps_its_order_and_code():
    out = frames(PYTHON)
    assert [(f.file, f.line, f.function) for f in out] == [("/srv/app.py", 10, "handler"), ("/srv/pay.py", 3, "pay")]
    assert out[-1].code == 'raise ValueError("declined")'


def test_node_java_and_go_are_turned_outermost_first():
    assert as_tuples(NODE) == [
        ("/srv/node_modules/express/lib/router/route.js", 149, "next"),
        ("/srv/node_modules/express/lib/router/layer.js", 95, "Layer.handle [as handle_request]"),
        ("/srv/app/service.js", 21, "<anonymous>"),
    ]
    assert as_tuples(JAVA)[-1] == ("Cart.java", 42, "com.shop.Cart.checkout")
    assert as_tuples(GO) == [("/srv/main.go", 8, "main.main()"), ("/srv/pay.go", 12, "main.pay(0x1)")]


def test_unknown_shapes_keep_every_line_and_are_bounded():
    assert as_tuples("something odd\n\nhappened") == [("something odd", None, ""), ("happened", None, "")]
    assert len(frames("\n".join(f"line {i}" for i in range(500)))) == 100


def test_a_long_line_of_colons_is_one_line_of_text():
    # Split from the right in one pass: a backtracking pattern would take minutes here.
    line = "    at " + ":1" * 30_000 + "x"
    [frame] = frames(line)
    assert frame.line is None and frame.file == line.strip()[:1024]

