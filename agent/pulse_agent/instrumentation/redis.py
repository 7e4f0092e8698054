"""redis-py, sync and asyncio: a database span per command (named after the command,
arguments never recorded) and one per pipeline execution."""

from pulse_agent.log import internal_error
from pulse_agent.instrumentation import unwrap_method, wrap_method
from pulse_agent.state import current
from pulse_agent.transaction import DATABASE, perf_counter

LIBRARY = "redis"
SUPPORTED = ("4.0", "8.0")
_ATTRS = {"db.system": "redis"}


def _command(original, patch):
    def execute_command(self, *args, **options):
        txn = current()
        if txn is None or txn.in_leaf or patch.passthrough:
            return original(self, *args, **options)
        try:
            saved = txn.enter()
            txn.in_leaf = True
        except Exception:
            internal_error("redis.enter")
            return original(self, *args, **options)
        t0 = perf_counter()
        try:
            return original(self, *args, **options)
        finally:
            try:
                txn.in_leaf = False
                name = args[0] if args and isinstance(args[0], str) else "command"
                txn.leave(DATABASE, "redis " + name.split(" ", 1)[0].upper(), t0, saved, _ATTRS)
            except Exception:
                internal_error("redis")

    return execute_command


def _command_async(original, patch):
    async def execute_command(self, *args, **options):
        txn = current()
        if txn is None or patch.passthrough:
            return await original(self, *args, **options)
        try:
            saved = txn.enter()
        except Exception:
            internal_error("redis.enter")
            return await original(self, *args, **options)
        t0 = perf_counter()
        try:
            return await original(self, *args, **options)
        finally:
            try:
                name = args[0] if args and isinstance(args[0], str) else "command"
                txn.leave(DATABASE, "redis " + name.split(" ", 1)[0].upper(), t0, saved, _ATTRS)
            except Exception:
                internal_error("redis")

    return execute_command


def _pipeline(original, patch, is_async):
    if is_async:

        async def execute(self, *args, **kwargs):
            txn = current()
            if txn is None or patch.passthrough:
                return await original(self, *args, **kwargs)
            try:
                saved = txn.enter()
            except Exception:
                internal_error("redis.enter")
                return await original(self, *args, **kwargs)
            t0 = perf_counter()
            try:
                return await original(self, *args, **kwargs)
            finally:
                try:
                    txn.leave(DATABASE, "redis PIPELINE", t0, saved, _ATTRS)
                except Exception:
                    internal_error("redis")

        return execute

    def execute(self, *args, **kwargs):
        txn = current()
        if txn is None or txn.in_leaf or patch.passthrough:
            return original(self, *args, **kwargs)
        try:
            saved = txn.enter()
            txn.in_leaf = True
        except Exception:
            internal_error("redis.enter")
            return original(self, *args, **kwargs)
        t0 = perf_counter()
        try:
            return original(self, *args, **kwargs)
        finally:
            try:
                txn.in_leaf = False
                txn.leave(DATABASE, "redis PIPELINE", t0, saved, _ATTRS)
            except Exception:
                internal_error("redis")

    return execute


def instrument_trigger(trigger):
    if trigger == "redis.client":
        from redis import client

        wrap_method(client.Redis, "execute_command", _command)
        wrap_method(client.Pipeline, "execute", lambda o, p: _pipeline(o, p, False))
    elif trigger == "redis.asyncio.client":
        from redis.asyncio import client as aclient

        wrap_method(aclient.Redis, "execute_command", _command_async)
        wrap_method(aclient.Pipeline, "execute", lambda o, p: _pipeline(o, p, True))


def instrument():
    instrument_trigger("redis.client")
    try:
        instrument_trigger("redis.asyncio.client")
    except ImportError:
        pass


def uninstrument():
    from redis import client

    unwrap_method(client.Redis, "execute_command")
    unwrap_method(client.Pipeline, "execute")
    try:
        from redis.asyncio import client as aclient

        unwrap_method(aclient.Redis, "execute_command")
        unwrap_method(aclient.Pipeline, "execute")
    except ImportError:
        pass
