"""Reading validated JSON/JSONL and writing files atomically (a temporary file, then a rename)."""

from __future__ import annotations

import codecs
import contextlib
import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any, Iterable, Iterator

from .errors import EndormError


def umask() -> int:
    """The process's umask. Read from /proc where it is shown: ``os.umask`` can only read it by setting it, and a
    file another thread creates in between would get the wrong mode."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def apply_umask(path: str | os.PathLike) -> None:
    """Give ``path`` (a folder: with everything in it) the mode a plain ``open``/``mkdir`` would have under the
    umask: temporary files and folders are private (0600/0700), and a rename keeps that. Files keep their execute
    bits; symbolic links (and the files they point to) are left alone."""
    mask = umask()
    path = Path(path)
    items = [path] + (sorted(path.rglob("*")) if path.is_dir() and not path.is_symlink() else [])
    for item in items:
        if item.is_symlink():
            continue
        full = 0o777 if item.is_dir() or item.stat().st_mode & 0o111 else 0o666
        os.chmod(item, full & ~mask)


def _temp_beside(path: Path) -> Path:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.is_dir():
            raise EndormError(f"{path}: is a directory; expected a file path to write")
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise EndormError(f"{path}: cannot write there ({exc.strerror or exc})") from None
    try:
        os.fchmod(fd, 0o666 & ~umask())  # mkstemp makes it 0600; the output gets the mode open() would give it
    finally:
        os.close(fd)
    return Path(tmp)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only if the block succeeds."""
    with atomic_paths([path]) as (tmp,):
        yield tmp


@contextlib.contextmanager
def atomic_paths(paths: Iterable[str | os.PathLike]) -> Iterator[list[Path]]:
    """Temporary paths beside each of ``paths``, all renamed into place only if the block succeeds (all or
    nothing: if one cannot be created, none is written)."""
    paths = [Path(p) for p in paths]
    tmps: list[Path] = []
    try:
        for path in paths:
            tmps.append(_temp_beside(path))
        yield tmps
        for tmp, path in zip(tmps, paths):
            os.replace(tmp, path)
    finally:
        for tmp in tmps:
            if os.path.exists(tmp):
                os.unlink(tmp)


def check_outputs(outputs: Iterable[str | os.PathLike | tuple[str | os.PathLike, str]],
                  inputs: Iterable[str | os.PathLike | None] = (), what: str = "--output",
                  folders: Iterable[str | os.PathLike | None] = ()) -> None:
    """Before any work: no output is an input, lies inside an input folder (``folders``: a model folder) or is
    another output, and each one's folder can be written. An output given as ``(path, name)`` is called ``name`` in
    a message (a file written beside another, such as a report's Markdown table); the others ``what PATH``."""
    seen: dict[str, str] = {}
    ins = {os.path.realpath(p): str(p) for p in inputs if p}
    folders = [(os.path.realpath(f), str(f)) for f in folders if f and os.path.isdir(f)]
    for out in outputs:
        out, name = out if isinstance(out, tuple) else (out, f"{what} {out}")
        real = os.path.realpath(out)
        if real in ins:
            raise EndormError(f"{name} is the input file {ins[real]}: refusing to overwrite an input")
        inside = next((given for folder, given in folders if real.startswith(folder.rstrip(os.sep) + os.sep)), None)
        if inside is not None:
            raise EndormError(f"{name} is inside the input folder {inside}: refusing to write into an input")
        if real in seen:
            raise EndormError(f"{name} would overwrite {seen[real]} (the same file): each output needs its own file")
        seen[real] = name
        if os.path.isdir(out):
            raise EndormError(f"{name} is a directory; expected a file path")
        parent = Path(real).parent
        while not parent.exists():
            parent = parent.parent
        if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
            raise EndormError(f"{name}: cannot write there ({parent} is not a writable folder)")


def check_report_outputs(output: str | os.PathLike, inputs: Iterable[str | os.PathLike | None] = (),
                         what: str = "--output", folders: Iterable[str | os.PathLike | None] = ()) -> str:
    """:func:`check_outputs` of a JSON report and the Markdown table written beside it; returns the table's path."""
    table = str(Path(output).with_suffix(".md"))
    check_outputs([output, (table, f"the Markdown table written beside {what} {output} ({table})")], inputs, what,
                  folders)
    return table


def write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json(path: str | os.PathLike, obj: Any) -> None:
    write_text(path, json.dumps(obj, indent=2, ensure_ascii=False, allow_nan=True) + "\n")


def jsonl_text(rows: Iterable[dict]) -> str:
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)


def write_jsonl(path: str | os.PathLike, rows: Iterable[dict]) -> None:
    write_text(path, jsonl_text(rows))


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def read_text(path: str | os.PathLike) -> str:
    """A UTF-8 text file (a byte-order mark is dropped); any problem names the file, and the line of a bad byte."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise EndormError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise EndormError(f"{path}: is a directory; expected a file") from None
    except PermissionError:
        raise EndormError(f"{path}: permission denied (cannot read it)") from None
    except OSError as exc:
        raise EndormError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8):]
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise EndormError(f"{path}: the file is UTF-16 text; expected UTF-8")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise EndormError(f"{path}, line {line}: not valid UTF-8 (byte 0x{data[exc.start]:02x}); expected UTF-8 "
                          "text") from None


def check_unicode(value: Any, where: str, field: str = "") -> None:
    """Refuse lone surrogates (from JSON escapes such as \\ud800): they are not text, and tokenizers fail on them."""
    if isinstance(value, str):
        m = _SURROGATE.search(value)
        if m:
            name = f"field {field!r}" if field else "a value"
            raise EndormError(f"{where}: {name} holds a lone surrogate (\\u{ord(m.group(0)):04x}), which is not valid "
                              "Unicode; expected text")
    elif isinstance(value, dict):
        for k, v in value.items():
            check_unicode(v, where, f"{field}.{k}" if field else str(k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            check_unicode(v, where, f"{field}[{i}]")


def parse_json(text: str, where: str, position: bool = False) -> Any:
    """JSON ``text`` read strictly (no lone surrogates); errors name ``where`` (and the line when ``position``)."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        at = f"line {exc.lineno}, column {exc.colno}" if position else f"column {exc.colno}"
        raise EndormError(f"{where}: not valid JSON ({exc.msg}, {at})") from None
    except RecursionError:
        raise EndormError(f"{where}: JSON nested too deeply") from None
    if _SURROGATE_ESCAPE.search(text):
        items = value if isinstance(value, list) and position else [value]
        for n, item in enumerate(items, 1):
            check_unicode(item, f"{where}, item {n}" if items is value else where)
    return value


def read_json(path: str | os.PathLike) -> Any:
    return parse_json(read_text(path), str(path), position=True)


def read_jsonl(path: str | os.PathLike) -> list[dict]:
    """Rows of a JSONL file (UTF-8, with or without a byte-order mark; LF or CRLF line ends; blank lines skipped).

    A malformed line is an error naming the file and line.
    """
    rows = []
    for lineno, line in enumerate(read_text(path).split("\n"), 1):
        if not line.strip():
            continue
        where = f"{path}, line {lineno}"
        row = parse_json(line, where)
        if not isinstance(row, dict):
            raise EndormError(f"{where}: expected a JSON object, got {_json_type(row)}")
        rows.append(row)
    return rows


def _json_type(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "true/false", type(None): "null"}.get(
        type(value), "a number")


def read_rows(path: str | os.PathLike) -> list[dict]:
    """JSONL, or a JSON list of objects (the shape of RM-Bench's and DSP's released files)."""
    if str(path).endswith(".json"):
        data = read_json(path)
        if not isinstance(data, list):
            raise EndormError(f"{path}: expected a JSON list of objects, got {_json_type(data)}")
        for n, item in enumerate(data, 1):
            if not isinstance(item, dict):
                raise EndormError(f"{path}, item {n}: expected a JSON object, got {_json_type(item)}")
        return data
    return read_jsonl(path)


def require(row: dict, field: str, kind: type | tuple[type, ...], where: str) -> Any:
    """``row[field]`` checked for presence and type; ``where`` is 'FILE, row N' for the message."""
    if field not in row:
        raise EndormError(f"{where}: missing field {field!r}")
    value = row[field]
    if not isinstance(value, kind):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise EndormError(f"{where}: field {field!r} must be {names}, got {type(value).__name__}")
    return value
