"""Apply each instrumentation only when its library is imported.

A ``sys.meta_path`` finder watches for the trigger modules listed in
``pulse_agent.instrumentation.REGISTRY``; after such a module has executed, the
matching instrumentation's ``instrument()`` runs. Modules already imported when the
agent starts are instrumented right away.
"""

import importlib
import importlib.abc
import importlib.util
import sys
import threading

from pulse_agent.instrumentation import REGISTRY, apply
from pulse_agent.log import log_once

_installed = False
_lock = threading.RLock()
_watch = {}  # trigger module name -> [instrumentation module names]
_done = set()  # (instrumentation, trigger) already applied
_disabled = set()


def run_hooks(trigger):
    for name in _watch.get(trigger, ()):
        key = (name, trigger)
        if key in _done:
            continue
        _done.add(key)
        apply(name, trigger)


class _Loader(importlib.abc.Loader):
    def __init__(self, loader, trigger):
        self.loader = loader
        self.trigger = trigger

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        self.loader.exec_module(module)
        try:
            run_hooks(self.trigger)
        except Exception:
            log_once("hook:" + self.trigger, "instrumentation of %s failed", self.trigger, exc_info=True)

    def __getattr__(self, name):  # get_code, get_source, is_package, ...
        return getattr(self.loader, name)


class PostImportFinder(importlib.abc.MetaPathFinder):
    def __init__(self):
        self._busy = threading.local()

    def find_spec(self, fullname, path=None, target=None):
        if fullname not in _watch:
            return None
        busy = getattr(self._busy, "names", None)
        if busy is None:
            busy = self._busy.names = set()
        if fullname in busy:
            return None
        busy.add(fullname)
        try:
            spec = importlib.util.find_spec(fullname)
        except Exception:
            return None
        finally:
            busy.discard(fullname)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        spec.loader = _Loader(spec.loader, fullname)
        return spec


_finder = PostImportFinder()


def install(disabled=()):
    """Install the finder and instrument what is already imported (idempotent)."""
    global _installed
    with _lock:
        _disabled.update(disabled)
        for name, triggers in REGISTRY.items():
            if name in _disabled:
                continue
            for trigger in triggers:
                names = _watch.setdefault(trigger, [])
                if name not in names:
                    names.append(name)
        if not _installed:
            sys.meta_path.insert(0, _finder)
            _installed = True
        for trigger in list(_watch):
            if trigger in sys.modules:
                run_hooks(trigger)
