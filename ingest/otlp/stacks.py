"""An OpenTelemetry exception event's ``exception.stacktrace`` text → stack frames.

The text is whatever the language prints; the common shapes are read into frames
(file, line, function, code): Python's traceback, the JavaScript engines' ``at f (file:l:c)``,
the JVM's ``at pkg.Class.method(File.java:l)``, Go's ``function`` / ``\\tfile:l`` pairs.
Any other line becomes a frame of its own text, so nothing of the stack is lost.
"""

import re

from contract.queued import QueuedFrame as Frame

MAX_FRAMES = 100
_PYTHON = re.compile(r'^\s*File "(?P<file>[^"]*)", line (?P<line>\d+)(?:, in (?P<function>.*))?$')
_JS = re.compile(r"^\s*at (?:(?P<function>.+?) \()?(?P<file>[^()]+?):(?P<line>\d+)(?::\d+)?\)?$")
_JVM = re.compile(r"^\s*at (?P<function>[\w$.<>/]+)\((?P<file>[^():]*)(?::(?P<line>\d+))?\)$")
_GO_FILE = re.compile(r"^\t(?P<file>\S+\.go):(?P<line>\d+)")


def frames(text):
    """The frames of a stack trace's text, outermost first as the protocol has them (the
    innermost, last, is the error's top frame), at most MAX_FRAMES; the lines that are not
    frames (headings, the message) are left out unless no line is a frame, then each line
    is one."""
    out = []
    innermost_first = False  # all but Python print the innermost frame first
    lines = text.splitlines()
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
        m = _JVM.match(line) or _JS.match(line)
        if m:
            innermost_first = True
            out.append(_frame(m["file"], m["line"], m["function"] or "<anonymous>"))
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


def _frame(file, line, function, code=None):
    return Frame(file[:1024], int(line) if line and len(line) < 9 else None, function[:255], code)
