"""Stage 1: read mapping YAML files and validate them against ``schema.Mapping``.

Every problem in every file is collected, each with ``file:line:column`` and the field path,
so a contributor fixes them all in one pass. Nothing here raises on bad input: problems are data.

Hostile files cost bounded work: only regular files are opened (a FIFO or a device is refused
without opening it), at most ``MAX_FILE_BYTES`` are read, and the YAML (composed by libyaml where
installed) is bounded before any Python object is built: nesting depth and aliases are counted on
the event stream, and the size the document would have once every alias is expanded
(``MAX_NODES`` values, ``MAX_FILE_BYTES`` characters) is measured in one pass over the composed
nodes, linear in the file's size.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from pydantic import ValidationError

from .schema import Mapping

MAX_FILE_BYTES = 1 << 20
MAX_DEPTH = 20  # a mapping file needs 7 levels
MAX_ALIASES = 200
MAX_NODES = 20_000  # values after expanding aliases; the largest mapping has a few hundred

Position = tuple[int, int]  # 1-based line and column
FieldPath = tuple[str | int, ...]


@dataclass(frozen=True)
class Problem:
    path: Path
    line: int
    column: int
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{_printable(str(self.path))}:{self.line}:{self.column}"
        message = _printable(self.message)
        return f"{where}: {_printable(self.field)}: {message}" if self.field else f"{where}: {message}"


def _printable(text: str) -> str:
    """``text`` with control characters shown as escapes, so that a key or file name from a
    hostile mapping cannot drive the terminal or the CI log that shows a problem."""
    return "".join(repr(character)[1:-1] if not character.isprintable() and character != " " else character
                   for character in text)


@dataclass(frozen=True)
class LoadedMapping:
    path: Path
    mapping: Mapping
    positions: dict[FieldPath, Position] = field(repr=False, compare=False)
    text_starts: dict[FieldPath, int] = field(default_factory=dict, repr=False, compare=False)
    # the file's YAML as plain data, which ``mapping`` was validated from (the render memo stores it)
    data: dict = field(default_factory=dict, repr=False, compare=False)

    def position_of(self, *field_path: str | int) -> Position:
        """Where the deepest known node on ``field_path`` sits (for messages that point into YAML)."""
        return _nearest_position(self.positions, field_path)

    def line_of(self, *field_path: str | int) -> int:
        return self.position_of(*field_path)[0]

    def line_in_text(self, field_path: FieldPath, line: int | None) -> int:
        """The file line of ``line`` (1-based) of a multi-line text value, e.g. an example's code."""
        start = self.text_starts.get(field_path)
        if start is None or not line:
            return self.line_of(*field_path)
        return start + line - 1


@dataclass
class LoadResult:
    mappings: list[LoadedMapping]
    problems: list[Problem]

    @property
    def ok(self) -> bool:
        return not self.problems


class _DuplicateKey(Exception):
    def __init__(self, key: str, node: yaml.Node, first: yaml.Node):
        self.key, self.node, self.first = key, node, first


def find_mapping_files(paths: list[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            # Anything named *.yaml but a folder is loaded, so a FIFO or a broken link is reported, not skipped.
            files.extend(sorted(p for p in path.rglob("*") if p.suffix in (".yaml", ".yml") and not p.is_dir()))
        else:
            files.append(path)
    return files


def load_mappings(paths: list[Path], load_one=None) -> LoadResult:
    """Load and validate every mapping file under ``paths`` (files or folders); ``load_one``, if
    given, loads one file in place of ``load_file`` (``memo.RenderMemo.load``)."""
    result = LoadResult([], [])
    files = find_mapping_files(paths)
    for file in files:
        loaded, problems = (load_one or load_file)(file)
        result.problems.extend(problems)
        if loaded is not None:
            result.mappings.append(loaded)
    result.problems.extend(_pair_conflicts(result.mappings))
    if not files:
        where = ", ".join(str(p) for p in paths)
        result.problems.append(Problem(paths[0] if paths else Path("."), 1, 1, "", f"no mapping files found in {where}"))
    return result


class _TooLarge(Exception):
    def __init__(self, message: str, mark: yaml.Mark):
        super().__init__(message)
        self.mark = mark


# libyaml (PyYAML's C parser) when it is installed: composing in C is the bulk of a no-op build's
# loading time, and the Python parser gives the same nodes, marks and errors.
_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_COLLECTION_STARTS = (yaml.MappingStartEvent, yaml.SequenceStartEvent)
_COLLECTION_ENDS = (yaml.MappingEndEvent, yaml.SequenceEndEvent)


def compose_bounded(text: str) -> yaml.Node | None:
    """The YAML's node graph, or ``_TooLarge`` for YAML too deep, with too many aliases, or too
    large once aliases expand. Depth and aliases are counted on the event stream first, so the
    composer never recurses deeply; an alias is one node shared by its uses, and the expanded size
    is measured on that graph, so the work grows with the file, not with what the aliases expand to.
    """
    _check_events(yaml.parse(text, Loader=_SafeLoader))
    node = yaml.compose(text, Loader=_SafeLoader)
    if node is not None:
        _check_expansion(node)
    return node


def _check_events(events) -> None:
    open_anchors: list[str | None] = []  # the anchor of each collection being read, outermost first
    aliases = 0
    for event in events:
        if isinstance(event, yaml.AliasEvent):
            aliases += 1
            if aliases > MAX_ALIASES:
                raise _TooLarge(f"more than {MAX_ALIASES} aliases (*name)", event.start_mark)
            if event.anchor in open_anchors:
                raise _TooLarge("an alias refers to a node that contains it (a recursive alias)", event.start_mark)
        elif isinstance(event, _COLLECTION_ENDS):
            open_anchors.pop()
        elif isinstance(event, (*_COLLECTION_STARTS, yaml.ScalarEvent)):
            if len(open_anchors) + 1 > MAX_DEPTH:
                raise _TooLarge(f"nested more than {MAX_DEPTH} levels deep", event.start_mark)
            if isinstance(event, _COLLECTION_STARTS):
                open_anchors.append(event.anchor)


def _check_expansion(root: yaml.Node) -> None:
    """(values, characters, depth) of each node once expanded, children before parents, without
    recursion. The graph has no cycle: ``_check_events`` refused recursive aliases."""
    expanded: dict[int, tuple[int, int, int]] = {}
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        if id(node) in expanded:
            continue
        if isinstance(node, yaml.ScalarNode):
            expanded[id(node)] = (1, len(node.value), 1)
        elif children_done:
            expanded[id(node)] = _measure(node, [expanded[id(child)] for child in _children(node)])
        else:
            stack.append((node, True))
            stack.extend((child, False) for child in _children(node))


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [child for pair in node.value for child in pair]
    return list(node.value)


def _measure(node: yaml.Node, measured: list[tuple[int, int, int]]) -> tuple[int, int, int]:
    values = 1 + sum(item[0] for item in measured)
    characters = sum(item[1] for item in measured)
    depth = 1 + max((item[2] for item in measured), default=0)
    if depth > MAX_DEPTH:
        raise _TooLarge(f"nested more than {MAX_DEPTH} levels deep once aliases are expanded", node.start_mark)
    if values > MAX_NODES or characters > MAX_FILE_BYTES:
        raise _TooLarge(f"expands to more than {MAX_NODES} values or {MAX_FILE_BYTES} characters "
                        "(each alias repeats what it points to)", node.start_mark)
    return values, characters, depth


def read_mapping_text(path: Path) -> str:
    """The file's text; ``OSError`` or ``ValueError`` with a message for anything but a readable
    regular UTF-8 file of at most ``MAX_FILE_BYTES``. Never blocks on a FIFO or a device."""
    control = next((character for character in str(path) if ord(character) < 0x20 or ord(character) == 0x7F), None)
    if control is not None:
        raise ValueError(f"the file name holds the control character U+{ord(control):04X}")
    if not stat.S_ISREG(os.stat(path).st_mode):
        raise ValueError("not a regular file (a FIFO, a device or a socket cannot be a mapping)")
    descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    with os.fdopen(descriptor, "rb") as stream:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            raise ValueError("not a regular file")
        data = stream.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise ValueError(f"the file is larger than {MAX_FILE_BYTES} bytes")
    return data.decode("utf-8")


def load_file(path: Path) -> tuple[LoadedMapping | None, list[Problem]]:
    try:
        text = read_mapping_text(path)
    except (OSError, ValueError) as error:  # UnicodeDecodeError is a ValueError
        reason = error.strerror if isinstance(error, OSError) and error.strerror else error
        return None, [Problem(path, 1, 1, "", f"cannot read file: {reason}")]
    try:
        node = compose_bounded(text)
        if node is None:
            return None, [Problem(path, 1, 1, "", "the file is empty; a mapping needs at least `source` and `status`")]
        positions: dict[FieldPath, Position] = {}
        text_starts: dict[FieldPath, int] = {}
        data = _to_python(node, (), positions, text_starts)
    except _TooLarge as error:
        return None, [Problem(path, error.mark.line + 1, error.mark.column + 1, "", f"YAML error: {error}")]
    except _DuplicateKey as dup:
        line, column = _position(dup.node)
        first_line = dup.first.start_mark.line + 1
        return None, [Problem(path, line, column, dup.key, f"duplicate key (first defined on line {first_line})")]
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        message = " ".join(part for part in (error.context, error.problem) if part)
        return None, [Problem(path, line, column, "", f"YAML syntax error: {message}")]
    except yaml.reader.ReaderError as error:
        line, column = _line_and_column(text, error.position)
        return None, [Problem(path, line, column, "", f"YAML error: character U+{error.character:04X} is not allowed in YAML")]
    except yaml.YAMLError as error:
        return None, [Problem(path, 1, 1, "", f"YAML error: {error}")]
    if not isinstance(data, dict):
        return None, [Problem(path, 1, 1, "", f"a mapping file must hold key: value pairs, not a {type(data).__name__}")]
    try:
        mapping = Mapping.model_validate(data)
    except ValidationError as error:
        return None, [_problem_from(path, item, positions) for item in error.errors()]
    return LoadedMapping(path, mapping, positions, text_starts, data), []


def _to_python(node: yaml.Node, here: FieldPath, positions: dict[FieldPath, Position],
               text_starts: dict[FieldPath, int]):
    """Build plain Python data from a composed YAML node, remembering where each value sits and
    where the text of each literal / folded block scalar (``|`` / ``>``) begins."""
    positions[here] = _position(node)
    if isinstance(node, yaml.MappingNode):
        result: dict = {}
        seen: dict[object, yaml.Node] = {}
        for key_node, value_node in node.value:
            key = _scalar(key_node)
            if key in seen:
                raise _DuplicateKey(str(key), key_node, seen[key])
            seen[key] = key_node
            result[key] = _to_python(value_node, (*here, str(key)), positions, text_starts)
            positions[(*here, str(key))] = _position(key_node)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_to_python(item, (*here, index), positions, text_starts) for index, item in enumerate(node.value)]
    if node.style in ("|", ">"):
        text_starts[here] = node.start_mark.line + 2  # the indicator's line, 0-based, then one down
    return _scalar(node)


def _scalar(node: yaml.Node):
    if not isinstance(node, yaml.ScalarNode):
        raise yaml.MarkedYAMLError(problem="a key must be a plain value", problem_mark=node.start_mark)
    value = _CONSTRUCTOR.construct_object(node)
    _CONSTRUCTOR.constructed_objects.clear()
    return value


_CONSTRUCTOR = yaml.constructor.SafeConstructor()


def _line_and_column(text: str, offset: int) -> Position:
    line_start = text.rfind("\n", 0, offset) + 1
    return text.count("\n", 0, offset) + 1, offset - line_start + 1


def _position(node: yaml.Node) -> Position:
    return node.start_mark.line + 1, node.start_mark.column + 1


def _problem_from(path: Path, error: dict, positions: dict[FieldPath, Position]) -> Problem:
    location = tuple(part for part in error["loc"] if not _is_union_branch(part))
    line, column = _nearest_position(positions, location)
    field_path = ".".join(str(part) if isinstance(part, str) else f"[{part}]" for part in location).replace(".[", "[")
    message = error["msg"]
    if error["type"] == "extra_forbidden":
        message = "unknown key (a typo?)"
    elif error["type"] == "missing":
        message = "required field is missing"
    message = message.removeprefix("Value error, ")
    return Problem(path, line, column, field_path, message)


def _nearest_position(positions: dict[FieldPath, Position], field_path: FieldPath) -> Position:
    while field_path and field_path not in positions:
        field_path = field_path[:-1]
    return positions.get(field_path, (1, 1))


def _is_union_branch(part: str | int) -> bool:
    # pydantic puts the union member's type name into ``loc``; it is no field a user wrote.
    return isinstance(part, str) and (part in {"str", "constrained-str", "float", "int", "bool", "none"} or part.startswith("function-"))


def _pair_conflicts(mappings: list[LoadedMapping]) -> list[Problem]:
    """One file per API pair and per page: a second file mapping a pair already mapped (or writing
    the same page) is an error. Several targets of one source API go in one file (`alternatives`)."""
    problems = []
    first_by_pair: dict[tuple[str, str | None], LoadedMapping] = {}
    first_by_page: dict[str, LoadedMapping] = {}
    for loaded in mappings:
        line, column = loaded.position_of("source", "api")
        found = []
        for source, target, _ in loaded.mapping.api_pairs():
            other = first_by_pair.setdefault((source, target), loaded)
            if other is not loaded:
                found.append(Problem(loaded.path, line, column, "source.api",
                                     f"two files map {source} -> {target or '(no counterpart)'}: also in {other.path}"))
        other_page = first_by_page.setdefault(loaded.mapping.key, loaded)
        if other_page is not loaded and not found:
            found.append(Problem(loaded.path, line, column, "source.api",
                                 f"two files write the page of {loaded.mapping.source.api} (one page per source API; "
                                 f"list another target under `alternatives`): also in {other_page.path}"))
        problems += found
    return problems


_PLACEHOLDER = re.compile(r"\bTODO\b")


def placeholder_problems(loaded: LoadedMapping) -> list[Problem]:
    """Placeholder text (``TODO``) that ``new`` or ``import`` left in a text field: ``check`` refuses
    to publish it. Code is not searched (a ``# TODO`` comment in an example is the example's own)."""
    problems = []

    def visit(value, here: tuple) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if key not in ("source", "target") or not isinstance(item, str):
                    visit(item, here + (key,))
        elif isinstance(value, list):
            for position, item in enumerate(value):
                visit(item, here + (position,))
        elif isinstance(value, str) and _PLACEHOLDER.search(value):
            line, column = loaded.position_of(*here)
            where = ".".join(str(part) for part in here)
            problems.append(Problem(loaded.path, line, column, where,
                                    "placeholder text (TODO) left by `new` or `import`: replace it before publishing"))

    visit(loaded.mapping.model_dump(mode="json", exclude_defaults=True), ())
    return problems
