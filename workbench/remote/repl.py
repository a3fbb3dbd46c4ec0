"""A Python REPL in this terminal whose code runs inside a crawl elsewhere.

Each entry goes to the crawl's RemoteControl ``/execute`` inside a fixed
wrapper: the entry travels as a string literal, is parsed there, runs in a
namespace kept in the server's ``stash`` (so names persist between entries;
``crawler`` and ``stash`` are in it), may use top-level ``await``, and the
value of a final expression is printed, as in IPython.  Input is
prompt_toolkit with Pygments highlighting, a history file and completion
from the remote namespace; output is sanitised before it is printed.
"""

from __future__ import annotations

import codeop
import json
import os
import re
from pathlib import Path
from typing import Any

from workbench.core.formats.sanitize import clean
from workbench.remote.client import RemoteControlClient, RemoteError
from workbench.remote.jobs import shown

NAMESPACE_KEY = "workbench_shell"

# Fixed code; only the literal after "_src = " varies (repr() of what was typed).
WRAPPER = """\
import ast as _wb_ast, inspect as _wb_inspect
_wb_ns = stash.setdefault({key!r}, {{"crawler": crawler, "stash": stash}})
_wb_ns["print"] = print
_src = {source!r}
_wb_tree = _wb_ast.parse(_src, "<remote>", "exec")
_wb_last = None
if _wb_tree.body and isinstance(_wb_tree.body[-1], _wb_ast.Expr):
    _wb_last = _wb_ast.Expression(_wb_tree.body.pop().value)
_wb_flags = _wb_ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
_wb_r = eval(compile(_wb_tree, "<remote>", "exec", flags=_wb_flags), _wb_ns)
if _wb_inspect.iscoroutine(_wb_r):
    await _wb_r
if _wb_last is not None:
    _wb_v = eval(compile(_wb_last, "<remote>", "eval", flags=_wb_flags), _wb_ns)
    if _wb_inspect.iscoroutine(_wb_v):
        _wb_v = await _wb_v
    if _wb_v is not None:
        _wb_ns["_"] = _wb_v
        print(repr(_wb_v))
"""

# Fixed code for completion: the names, or the attributes of a dotted name
# (looked up with getattr, never evaluated).
COMPLETE = """\
import builtins as _wb_b, json as _wb_json
_wb_ns = stash.get({key!r}) or {{"crawler": crawler, "stash": stash}}
_wb_path = {path!r}
if _wb_path:
    _wb_parts = _wb_path.split(".")
    _wb_first = _wb_parts[0]
    _wb_obj = _wb_ns[_wb_first] if _wb_first in _wb_ns else getattr(_wb_b, _wb_first, None)
    for _wb_p in _wb_parts[1:]:
        _wb_obj = getattr(_wb_obj, _wb_p, None)
    _wb_names = [n for n in dir(_wb_obj) if not n.startswith("__")] if _wb_obj is not None else []
else:
    _wb_names = [n for n in _wb_ns if not n.startswith("_wb")] + dir(_wb_b)
print(_wb_json.dumps(sorted(set(_wb_names))[:2000]))
"""

DOTTED = re.compile(r"([A-Za-z_][\w]*(?:\.[A-Za-z_]\w*)*)\.?(\w*)$")
BANNER = """\
Remote shell on {spider} (pid {pid}, Scrapy {version}): code runs in the crawl's process.
crawler and stash are defined; names you define persist; top-level await works.
Ctrl-D leaves (the crawl goes on). {timeout:g} s per entry."""


class RemoteShell:
    def __init__(self, client: RemoteControlClient, timeout: float = 30.0) -> None:
        self.client = client
        self.timeout = timeout

    def run(self, source: str) -> str:
        """Run one entry; returns what to print (output, value, traceback), sanitised."""
        code = WRAPPER.format(key=NAMESPACE_KEY, source=source)
        result = self.client.execute(code, self.timeout)
        parts = [result.get("output") or ""]
        status = result.get("status")
        if status == "timeout":
            parts.append(f"TimeoutError: the entry did not finish in {self.timeout:g} s\n")
        elif status in ("error", "compile_error") and result.get("traceback"):
            parts.append(_user_traceback(result["traceback"]))
        text = "".join(parts)
        return clean_output(text)

    def completions(self, text: str) -> list[str]:
        match = DOTTED.search(text)
        if match is None:
            path, prefix = "", text.rsplit(" ", 1)[-1]
        elif text.endswith(".") or "." in match.group(0):
            whole = match.group(0)
            path, _, prefix = whole.rpartition(".")
        else:
            path, prefix = "", match.group(0)
        try:
            result = self.client.execute(COMPLETE.format(key=NAMESPACE_KEY, path=path), 3.0)
            names = json.loads(result.get("output") or "[]")
        except (RemoteError, ValueError):
            return []
        return [n for n in names if isinstance(n, str) and n.startswith(prefix)]


def _user_traceback(tb: str) -> str:
    """The traceback from the user's code on: the wrapper's own frames dropped."""
    lines = tb.splitlines(keepends=True)
    for index, line in enumerate(lines):
        if 'File "<remote>"' in line:
            return "Traceback (most recent call last):\n" + "".join(lines[index:])
    return tb


def clean_output(text: str) -> str:
    """Remote output is untrusted: control characters shown as escapes, newlines kept."""
    return "\n".join(clean(line) for line in text.split("\n"))


def history_path() -> Path:
    from platformdirs import user_state_dir

    return Path(user_state_dir("workbench", appauthor=False), "remote_shell_history")


def private_history(path: Path) -> Path | None:
    """``path`` made ready for the shell's history: the file 0600 in a 0700 directory
    (as RemoteControl's job files), the modes of ones that exist fixed too.  What
    was typed into a crawl's process can hold secrets.  None when it cannot be made
    private (another user's directory, a symlink): the history is then not kept."""
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(path.parent, 0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW, 0o600)
        try:
            os.fchmod(fd, 0o600)
        finally:
            os.close(fd)
    except OSError:
        return None
    return path


def interact(shell: RemoteShell, status: dict[str, Any], note: str = "") -> int:
    """The prompt loop (a terminal is needed)."""
    from prompt_toolkit import PromptSession
    from prompt_toolkit.completion import Completer, Completion
    from prompt_toolkit.history import FileHistory, History, InMemoryHistory
    from prompt_toolkit.lexers import PygmentsLexer
    from pygments.lexers.python import PythonLexer

    class RemoteCompleter(Completer):
        def get_completions(self, document: Any, complete_event: Any) -> Any:
            before = document.text_before_cursor
            word = re.search(r"[\w.]*$", before)
            typed = word.group(0) if word else ""
            prefix = typed.rpartition(".")[2]
            for name in shell.completions(typed):
                yield Completion(name, start_position=-len(prefix))

    path = private_history(history_path())
    history: History = FileHistory(str(path)) if path is not None else InMemoryHistory()
    session: PromptSession[str] = PromptSession(
        history=history,
        lexer=PygmentsLexer(PythonLexer),
        completer=RemoteCompleter(),
        complete_while_typing=False,
    )
    print(
        BANNER.format(
            spider=clean(str(status.get("spider"))),
            pid=status.get("pid"),
            version=clean(str(status.get("scrapy_version"))),
            timeout=shell.timeout,
        )
    )
    if note:
        print(clean(note))
    if path is None:
        print(f"(history not saved: {clean(shown(history_path().parent))} cannot be made private)")
    number = 1
    while True:
        lines: list[str] = []
        try:
            while True:
                prompt = f"In [{number}]: " if not lines else "   ...: "
                lines.append(session.prompt(prompt))
                source = "\n".join(lines)
                try:
                    complete = codeop.compile_command(source, "<remote>", "exec") is not None
                except (SyntaxError, ValueError, OverflowError):
                    complete = True  # let the crawl's side report it
                if complete or (len(lines) > 1 and not lines[-1].strip()):
                    break
        except KeyboardInterrupt:
            print("KeyboardInterrupt")
            continue
        except EOFError:
            print("Leaving the remote shell; the crawl goes on.")
            return 0
        source = "\n".join(lines)
        if not source.strip():
            continue
        try:
            out = shell.run(source)
        except RemoteError as exc:
            print(f"workbench: {clean(str(exc))}")
            return 1
        except KeyboardInterrupt:
            print("KeyboardInterrupt (the entry may still be running in the crawl)")
            continue
        if out:  # what the crawl printed: page text, likely; nothing raw reaches the terminal
            out = clean(out)
            print(out, end="" if out.endswith("\n") else "\n")
        number += 1
