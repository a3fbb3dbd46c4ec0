"""Tracebacks read as text: whose code each frame is, and the runs they fold into.

The recorder keeps tracebacks as text (an attached crawl and a HAR file carry
text too).  :func:`user_frame` finds the innermost frame of the user's own
code: not the standard library, Scrapy, Twisted, workbench or anything
installed in ``site-packages`` (:func:`is_user_file`); :func:`location_text`
says where it is as the panels show it.  :func:`fold` splits a traceback into
runs of the user's frames, runs of library frames (drawn folded, one line
each: :func:`folded_label`) and the other lines; :func:`compact` is the folded
text a HAR file keeps; :func:`exception_line` is the line that says what was
raised.  Used by the error groups (``errors.py``), the Error tab, the Log and
the HAR writer.
"""

from __future__ import annotations

import functools
import os
import re
import sys
import sysconfig
from dataclasses import dataclass

# a dotted exception type name, e.g. scrapy.exceptions.IgnoreRequest
TYPE_NAME = re.compile(r"[A-Za-z_][\w]*(?:\.[A-Za-z_][\w]*)*")


# -- whose code a frame is ----------------------------------------------------------

_FRAME = re.compile(r'^([ \t]*)File "([^"\n]*)", line (\d+), in ([^\n]*)$', re.MULTILINE)
_STDLIB = re.compile(r"[/\\]lib[/\\](?:python\d+(?:\.\d+)?|pypy\d*(?:\.\d+)?)[/\\]", re.IGNORECASE)


def _library_roots() -> tuple[str, ...]:
    """Directories whose files are not the user's code, in this process: the
    standard library, the installed packages, and Scrapy, Twisted and
    workbench wherever they are (an editable install is outside site-packages)."""
    roots: set[str] = set()
    for name in ("stdlib", "platstdlib", "purelib", "platlib"):
        path = sysconfig.get_paths().get(name)
        if path:
            roots.add(os.path.realpath(path))
    for module in ("scrapy", "twisted", "workbench"):
        found = sys.modules.get(module)
        path = getattr(found, "__file__", None)
        if path:
            roots.add(os.path.dirname(os.path.realpath(path)))
    return tuple(sorted(r.replace("\\", "/").rstrip("/") + "/" for r in roots))


_ROOTS: tuple[str, ...] | None = None
_DEMO = "/workbench/demo/"  # the bundled demo's spider is the user's code in the demo


@functools.lru_cache(maxsize=4096)
def is_user_file(path: str) -> bool:
    """Whether a traceback's file is the user's own code (the project's).

    Not the user's: pseudo files (``<frozen …>``, ``<string>``), anything under a
    ``site-packages`` or ``dist-packages`` directory (what is installed in the
    virtualenv or the system, the user's own package too when installed there
    rather than in editable mode), a Python's standard library (this one's, or
    another machine's ``…/lib/python3.x/``), and Scrapy, Twisted and workbench
    (but workbench's demo spider, which plays the user's in ``workbench demo``).
    Everything else is: the project directory, a spider file anywhere."""
    global _ROOTS
    if not path or path.startswith("<"):
        return False
    norm = path.replace("\\", "/")
    if "/site-packages/" in norm or "/dist-packages/" in norm:
        return False
    if _STDLIB.search(path):
        return False
    if _DEMO in norm:
        return True
    if _ROOTS is None:
        _ROOTS = _library_roots()
    real = norm if not os.path.isabs(path) else os.path.realpath(path).replace("\\", "/")
    return not any(real.startswith(root) or norm.startswith(root) for root in _ROOTS)


def user_frame(traceback: str | None) -> tuple[str, int, str] | None:
    """(file, line, function) of the innermost frame of the user's code in a
    traceback's text (its last exception first, then the exceptions it chains).

    Read from the end with ``rfind``: the user's frame is most often the last
    one, so a callback's error costs one step (a regular expression over the
    whole text cost 70 µs for Scrapy's 30 frames)."""
    if not traceback:
        return None
    end = len(traceback)
    while True:
        at = traceback.rfind('File "', 0, end)
        if at < 0:
            return None
        end = at
        start = traceback.rfind("\n", 0, at) + 1
        if traceback[start:at].strip(" \t"):
            continue  # not at the start of a line: part of a message
        match = _FRAME_AT.match(traceback, at)
        if match is not None and is_user_file(match.group(1)):
            return match.group(1), int(match.group(2)), match.group(3).strip()


_FRAME_AT = re.compile(r'File "([^"\n]*)", line (\d+), in ([^\n]*)')


def short_path(path: str, parts: int = 3) -> str:
    """The last ``parts`` components of a path: ``shop/spiders/books.py``."""
    pieces = path.replace("\\", "/").split("/")
    return "/".join(pieces[-parts:])


_CWD: str | None = None


def project_path(path: str) -> str:
    """A file as the user knows it: relative to the directory the crawl runs in
    (the project's) when it is under it, else its last three components."""
    global _CWD
    if _CWD is None:
        try:
            _CWD = os.getcwd().replace("\\", "/").rstrip("/") + "/"
        except OSError:  # the directory was removed
            _CWD = "/"
    norm = path.replace("\\", "/")
    if len(_CWD) > 1 and norm.startswith(_CWD):
        return norm[len(_CWD) :]
    return short_path(norm)


def location_text(frame: tuple[str, int, str] | None) -> str | None:
    """``shop/spiders/books.py:42 in parse`` (None without a frame of the user's)."""
    if frame is None:
        return None
    path, line, function = frame
    return f"{project_path(path)}:{line} in {function}"


# -- the groups ------------------------------------------------------------------------


# -- tracebacks, folded ------------------------------------------------------------------

TEXT, USER, LIBRARY = "text", "user", "library"


@dataclass(frozen=True, slots=True)
class Block:
    """A run of a traceback's lines: ``text`` (headers, the exception, the lines
    between chained exceptions), ``user`` frames or ``library`` frames."""

    kind: str
    lines: tuple[str, ...]
    frames: int = 0  # frames in a user or library run
    packages: tuple[str, ...] = ()  # a library run: whose frames (scrapy, twisted…)


def _package(path: str) -> str:
    """Whose frame a library file is: the top package after site-packages, or the
    standard library module (``asyncio``, ``contextlib``)."""
    norm = path.replace("\\", "/")
    if norm.startswith("<"):
        return norm.strip("<>").split()[0] if norm.strip("<>") else "?"
    for marker in ("/site-packages/", "/dist-packages/"):
        if marker in norm:
            top = norm.split(marker, 1)[1].split("/", 1)[0]
            return top.removesuffix(".py")
    match = _STDLIB.search(norm)
    if match:
        return norm[match.end() :].split("/", 1)[0].removesuffix(".py")
    for name in ("scrapy", "twisted", "workbench"):
        if f"/{name}/" in norm:
            return name
    return short_path(norm, 1).removesuffix(".py")


def fold(traceback: str) -> list[Block]:
    """A traceback's text as blocks: consecutive frames of the user's code, of
    libraries, and everything else, in order.  A frame is its ``File "…"`` line
    and the lines indented below it (the code, Python 3.11's ``^^^^`` marks)."""
    blocks: list[Block] = []
    run_kind: str | None = None
    run_lines: list[str] = []
    run_frames = 0
    run_packages: list[str] = []

    def flush() -> None:
        nonlocal run_kind, run_lines, run_frames, run_packages
        if run_kind is not None and run_lines:
            blocks.append(Block(run_kind, tuple(run_lines), run_frames, tuple(run_packages)))
        run_kind, run_lines, run_frames, run_packages = None, [], 0, []

    frame_indent: int | None = None  # inside a frame: its File line's indentation
    for line in traceback.split("\n"):
        match = _FRAME.match(line)
        if match is not None:
            path = match.group(2)
            kind = USER if is_user_file(path) else LIBRARY
            if kind != run_kind:
                flush()
                run_kind = kind
            run_lines.append(line)
            run_frames += 1
            if kind == LIBRARY:
                package = _package(path)
                if package not in run_packages:
                    run_packages.append(package)
            frame_indent = len(match.group(1))
            continue
        indent = len(line) - len(line.lstrip(" \t"))
        if frame_indent is not None and line.strip() and indent > frame_indent:
            run_lines.append(line)  # the frame's code and marks
            continue
        frame_indent = None
        if run_kind != TEXT:
            flush()
            run_kind = TEXT
        run_lines.append(line)
    flush()
    # no trailing empty line of its own
    if blocks and blocks[-1].kind == TEXT and not any(s.strip() for s in blocks[-1].lines):
        blocks.pop()
    return blocks


def folded_label(block: Block) -> str:
    """What a folded run of library frames says: ``58 frames: scrapy, twisted``."""
    names = ", ".join(block.packages[:4]) + (", …" if len(block.packages) > 4 else "")
    noun = "frame" if block.frames == 1 else "frames"
    return f"{block.frames} {noun}: {names}" if names else f"{block.frames} {noun}"


def compact(traceback: str, limit: int = 4000) -> str:
    """The traceback with each run of library frames as one line
    (``  [58 frames: scrapy, twisted]``): what a HAR file carries."""
    out: list[str] = []
    for block in fold(traceback):
        if block.kind == LIBRARY:
            indent = block.lines[0][: len(block.lines[0]) - len(block.lines[0].lstrip())]
            out.append(f"{indent}[{folded_label(block)}]")
        else:
            out.extend(block.lines)
    text = "\n".join(out)
    return text if len(text) <= limit else text[: limit // 2] + "\n…\n" + text[-limit // 2 :]


def short_exception(line: str) -> str:
    """``DownloadTimeoutError: …`` for ``scrapy.exceptions.DownloadTimeoutError: …``."""
    head, sep, rest = line.partition(": ")
    if "." in head and TYPE_NAME.fullmatch(head):
        return head.rpartition(".")[2] + sep + rest
    return line


def exception_line(text: str) -> str | None:
    """The line that says what was raised, at the end of a traceback (or of a log
    message that carries one): ``ValueError: bad price 4``.  Twisted's
    ``builtins.`` prefix is left out.  None when the text has no traceback."""
    start = text.rfind("Traceback (most recent call last):")
    if start < 0:
        return None
    lines = text[start:].split("\n")
    last_frame = -1
    frame_indent = 0
    for index, line in enumerate(lines):
        match = _FRAME.match(line)
        if match is not None:
            last_frame, frame_indent = index, len(match.group(1))
    after = lines[last_frame + 1 :] if last_frame >= 0 else lines[1:]
    for line in after:
        indent = len(line) - len(line.lstrip(" \t"))
        if not line.strip() or (last_frame >= 0 and indent > frame_indent):
            continue
        return line.strip().removeprefix("builtins.")
    return None
