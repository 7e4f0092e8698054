"""An OpenTelemetry exception event's ``exception.stacktrace`` text → stack frames.

The text is whatever the language prints; the common shapes are read into frames
(file, line, function, code): Python's traceback, the JavaScript engines' ``at f (file:l:c)``,
the JVM's ``at pkg.Class.method(File.java:l)``, Go's ``function`` / ``\\tfile:l`` pairs.
Any other line becomes a frame of its own text, so nothing of the stack is lost.
"""

import re

from contract.queued import QueuedFrame as Frame

MAX_FRAMES = 100
MAX_TEXT = 64 << 10  # characters of a stack text read: past a hundred frames anyway
_PYTHON = re.compile(r'^\s*File "(?P<file>[^"]*)", line (?P<line>\d+)(?:, in (?P<function>.*))?$')
_JVM = re.compile(r"^\s*at (?P<function>[\w$.<>/]+)\((?P<file>[^():]*)(?::(?P<line>\d+))?\)$")
_GO_FILE = re.compile(r"^\t(?P<file>\S+\.go):(?P<line>\d+)")


def frames(text):
    """The frames of a stack trace's text, outermost first as the protocol has them (the
    innermost, last, is the error's top frame), at most MAX_FRAMES; the lines that are not
    frames (headings, the message) are left out unless no line is a frame, then each line
    is one."""
    out = []
    innermost_first = False  # all but Python print the innermost frame first
    lines = text[:MAX_TEXT].splitlines()
    i = 0
    while i < len(lines) and len(out) < MAX_FRAMES:
        line = lines[i]
        i += 1
        m = _PYTHON.match(line)
        if m:
            code = None
            if i < len(lines) and lines[i].startswith("    ") and not _PYTHON.match(lines[i]):
                code = lines[i].strip()[:512]
                i += 1
            out.append(_frame(m["file"], m["line"], m["function"] or "?", code))
            continue
        m = _JVM.match(line)
        js = None if m else _js_frame(line)
        if m or js:
            innermost_first = True
            out.append(js or _frame(m["file"], m["line"], m["function"]))
            continue
        g = _GO_FILE.match(lines[i]) if i < len(lines) and line.strip() and not line.startswith("\t") else None
        if g:
            innermost_first = True
            out.append(_frame(g["file"], g["line"], line.strip()))
            i += 1
    if innermost_first:
        out.reverse()
    if not out:
        out = [_frame(line.strip(), None, "") for line in lines if line.strip()][:MAX_FRAMES]
    return out


def _js_frame(line):
    """A frame of a JavaScript engine's ``at f (file:line:column)`` or ``at file:line:column``
    line, or None. Split from the right, in one pass (a regex for it backtracks on long lines)."""
    text = line.strip()
    if not text.startswith("at "):
        return None
    text = text[3:]
    function = "<anonymous>"
    if text.endswith(")") and " (" in text:
        function, text = text[:-1].rsplit(" (", 1)
    parts = text.rsplit(":", 2)
    if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit():
        file, number = parts[0], parts[1]
    elif len(parts) >= 2 and parts[-1].isdigit():
        file, number = text.rsplit(":", 1)
    else:
        return None
    return _frame(file, number, function)


def _frame(file, line, function, code=None):
    return Frame(file[:1024], int(line) if line and len(line) < 9 else None, function[:255], code)
