"""Stage 1: read mapping YAML files and validate them against ``schema.Mapping``.

Every problem in every file is collected, each with ``file:line:column`` and the field path,
so a contributor fixes them all in one pass. Nothing here raises on bad input: problems are data.

Hostile files cost bounded work: only regular files are opened (a FIFO or a device is refused
without opening it), at most ``MAX_FILE_BYTES`` are read, and the YAML (composed by libyaml where
installed) is bounded before any Python object is built: nesting depth and aliases are counted on
the event stream, and the size the document would have once every alias is expanded
(``MAX_NODES`` values, ``MAX_FILE_BYTES`` characters) is measured in one pass over the composed
nodes, linear in the file's size.

A value YAML cannot build (an impossible date such as ``2024-02-31``, ``!!int abc``, an integer of
more digits than Python converts, an unknown tag) is a problem at its key or value, reported with
the file's other problems; such a file yields no mapping.

Across files: each API pair is mapped once, each source API has one page (its own file's, or a
place among one file's ``other_pairs``), and every pair goes from ``frameworks.SOURCE_FRAMEWORK``
to ``frameworks.TARGET_FRAMEWORK``; a conflict is reported at the entry in error, naming the other
file.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from pydantic import ValidationError

from .frameworks import SOURCE_FRAMEWORK, TARGET_FRAMEWORK, framework_of
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


# A mapping's file name goes into its page's "Edit this page" link and into messages: letters,
# digits and ``_ . -`` are all that an API name gives (``scaffold``) and all that needs no quoting.
_FILE_NAME = re.compile(r"[A-Za-z0-9_.-]+")


def load_file(path: Path) -> tuple[LoadedMapping | None, list[Problem]]:
    try:
        text = read_mapping_text(path)
    except (OSError, ValueError) as error:  # UnicodeDecodeError is a ValueError
        reason = error.strerror if isinstance(error, OSError) and error.strerror else error
        return None, [Problem(path, 1, 1, "", f"cannot read file: {reason}")]
    if not _FILE_NAME.fullmatch(path.name):
        return None, [Problem(path, 1, 1, "", "a mapping's file name may hold only letters, digits, '_', '.' "
                                              "and '-' (as the API name does)")]
    try:
        node = compose_bounded(text)
        if node is None:
            return None, [Problem(path, 1, 1, "", "the file is empty; a mapping needs at least `source` and `status`")]
        reading = _Reading()
        data = _to_python(node, (), reading)
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
    unreadable = [Problem(path, *position, _field_text(where), why)
                  for where, (position, why) in reading.unreadable.items()]
    if not isinstance(data, dict):
        return None, unreadable + [Problem(path, 1, 1, "", "a mapping file must hold key: value pairs, "
                                                           f"not a {type(data).__name__}")]
    try:
        mapping = Mapping.model_validate(data)
    except ValidationError as error:
        problems = [_problem_from(path, item, reading.positions) for item in error.errors()
                    if not _about_unreadable(item, reading.unreadable)]
        return None, sorted(unreadable + problems, key=lambda problem: (problem.line, problem.column))
    if unreadable:
        return None, unreadable
    return LoadedMapping(path, mapping, reading.positions, reading.text_starts, data), []


def plain_data(text: str) -> object | None:
    """The Python data of a mapping's text, bounded and built as ``load_file`` builds it (a value
    YAML cannot build stands as its text), or None where ``load_file`` reports a YAML problem: for
    a look at files that need not validate."""
    try:
        node = compose_bounded(text)
        return None if node is None else _to_python(node, (), _Reading())
    except (_TooLarge, _DuplicateKey, yaml.YAMLError):
        return None


@dataclass
class _Reading:
    """What building Python data from the composed nodes learns beside the data: where each value
    sits, where each block text begins, and the values (or keys) that could not be built."""

    positions: dict[FieldPath, Position] = field(default_factory=dict)
    text_starts: dict[FieldPath, int] = field(default_factory=dict)
    unreadable: dict[FieldPath, tuple[Position, str]] = field(default_factory=dict)  # -> where, why


def _to_python(node: yaml.Node, here: FieldPath, reading: _Reading):
    """Build plain Python data from a composed YAML node, remembering where each value sits and
    where the text of each literal / folded block scalar (``|`` / ``>``) begins. A scalar that
    cannot be built stands as its text and is noted in ``reading.unreadable``."""
    reading.positions[here] = _position(node)
    if isinstance(node, yaml.MappingNode):
        result: dict = {}
        seen: dict[object, yaml.Node] = {}
        for key_node, value_node in node.value:
            key = _scalar(key_node, here, reading, is_key=True)
            if key in seen:
                raise _DuplicateKey(str(key), key_node, seen[key])
            seen[key] = key_node
            result[key] = _to_python(value_node, (*here, str(key)), reading)
            reading.positions[(*here, str(key))] = _position(key_node)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_to_python(item, (*here, index), reading) for index, item in enumerate(node.value)]
    if node.style in ("|", ">"):
        reading.text_starts[here] = node.start_mark.line + 2  # the indicator's line, 0-based, then one down
    return _scalar(node, here, reading)


def _scalar(node: yaml.Node, here: FieldPath, reading: _Reading, is_key: bool = False):
    if not isinstance(node, yaml.ScalarNode):
        raise yaml.MarkedYAMLError(problem="a key must be a plain value", problem_mark=node.start_mark)
    try:
        return _CONSTRUCTOR.construct_object(node)
    # PyYAML's constructors raise whatever Python's conversions raise on a value they cannot build
    # (ValueError for an impossible date or 5,000 digits, KeyError, AttributeError, their own
    # ConstructorError for an unknown tag): every one is the file's problem, never a crash.
    except Exception as error:  # noqa: BLE001
        where = (*here, node.value) if is_key else here
        reading.unreadable.setdefault(where, (_position(node), _unbuildable(node, error)))
        return node.value
    finally:
        _CONSTRUCTOR.constructed_objects.clear()


_CONSTRUCTOR = yaml.constructor.SafeConstructor()
_IMPLICIT = yaml.resolver.Resolver()
_TAG_MEANING = {"int": "an integer", "float": "a number", "bool": "true or false", "null": "null",
                "timestamp": "a date", "binary": "base64 data"}
_SHOWN_CHARACTERS = 40


def _unbuildable(node: yaml.ScalarNode, error: Exception) -> str:
    """Why ``node`` could not be built, for a contributor: the value, what YAML took it for and,
    where YAML guessed that from the value's looks, how to keep it as text."""
    if node.tag == "tag:yaml.org,2002:merge":
        return "merge keys (`<<: *name`) are not supported; write the keys out"
    if node.tag not in _CONSTRUCTOR.yaml_constructors:
        return f"unknown tag `{node.tag}` (a mapping holds text, numbers, true/false, lists and key: value pairs)"
    if isinstance(error, yaml.MarkedYAMLError):
        return error.problem or str(error)
    value = node.value if len(node.value) <= _SHOWN_CHARACTERS else \
        f"{node.value[:_SHOWN_CHARACTERS]}... ({len(node.value)} characters)"
    name = node.tag.removeprefix("tag:yaml.org,2002:")
    message = f"cannot read `{value}` as {_TAG_MEANING.get(name, name)}"
    if isinstance(error, ValueError) and str(error):
        message += f" ({str(error).split(';')[0]})"  # Python's advice after the `;` is for programmers
    if _IMPLICIT.resolve(yaml.ScalarNode, node.value, (True, False)) == node.tag:
        message += "; quote it to keep it as text"
    return message


def _line_and_column(text: str, offset: int) -> Position:
    line_start = text.rfind("\n", 0, offset) + 1
    return text.count("\n", 0, offset) + 1, offset - line_start + 1


def _position(node: yaml.Node) -> Position:
    return node.start_mark.line + 1, node.start_mark.column + 1


def _problem_from(path: Path, error: dict, positions: dict[FieldPath, Position]) -> Problem:
    location = _location(error)
    line, column = _nearest_position(positions, location)
    field_path = _field_text(location)
    message = error["msg"]
    if error["type"] == "extra_forbidden":
        message = "unknown key (a typo?)"
    elif error["type"] == "missing":
        message = "required field is missing"
    message = message.removeprefix("Value error, ")
    return Problem(path, line, column, field_path, message)


def _location(error: dict) -> FieldPath:
    return tuple(part for part in error["loc"] if not _is_union_branch(part))


def _field_text(location: FieldPath) -> str:
    """``examples[0].timeout`` for ``("examples", 0, "timeout")``."""
    return ".".join(str(part) if isinstance(part, str) else f"[{part}]" for part in location).replace(".[", "[")


def _about_unreadable(error: dict, unreadable: dict[FieldPath, tuple[Position, str]]) -> bool:
    """The schema's complaint about a key or value that stands in for one YAML could not build (its
    text): the reason it could not be built is the problem to show."""
    location = _location(error)
    return any(location[:len(where)] == where for where in unreadable)


def _nearest_position(positions: dict[FieldPath, Position], field_path: FieldPath) -> Position:
    while field_path and field_path not in positions:
        field_path = field_path[:-1]
    return positions.get(field_path, (1, 1))


def _is_union_branch(part: str | int) -> bool:
    # pydantic puts the union member's type name into ``loc``; it is no field a user wrote.
    return isinstance(part, str) and (part in {"str", "constrained-str", "float", "int", "bool", "none"} or part.startswith("function-"))


@dataclass(frozen=True)
class _Entry:
    """One pair of a page as written in its file; ``where`` is the field that names it (its source
    API, or an alternative's target)."""

    loaded: LoadedMapping
    source: str
    target: str | None
    where: FieldPath

    def problem(self, message: str) -> Problem:
        return Problem(self.loaded.path, *self.loaded.position_of(*self.where), _field_text(self.where), message)


def _entries(loaded: LoadedMapping) -> list[_Entry]:
    """The page's pairs in ``Mapping.api_pairs`` order: main pair, alternatives, other pairs."""
    mapping = loaded.mapping
    entries = [_Entry(loaded, mapping.source.api, mapping.target.api if mapping.target else None, ("source", "api"))]
    entries += [_Entry(loaded, mapping.source.api, alternative.target.api, ("alternatives", index, "target", "api"))
                for index, alternative in enumerate(mapping.alternatives)]
    entries += [_Entry(loaded, pair.source.api, pair.target.api if pair.target else None,
                       ("other_pairs", index, "source", "api")) for index, pair in enumerate(mapping.other_pairs)]
    return entries


def _pair_conflicts(mappings: list[LoadedMapping]) -> list[Problem]:
    """Across all files: every pair goes from ``SOURCE_FRAMEWORK`` to ``TARGET_FRAMEWORK``, each pair
    is mapped in one file, and each source API has one page. A page belongs to its file's main
    source API; the same API among another file's ``other_pairs`` would give it a second page, and
    that entry is the one reported. Several targets of one source API go in one file
    (`alternatives`)."""
    by_file = [(loaded, _entries(loaded)) for loaded in mappings]
    entries = [entry for _, entries_of_file in by_file for entry in entries_of_file]
    first_by_pair: dict[tuple[str, str | None], _Entry] = {}
    page_of: dict[str, _Entry] = {}  # source API -> the entry that puts it on a page first
    for entry in sorted(entries, key=lambda entry: entry.where[0] != "source"):  # main sources claim pages first
        page_of.setdefault(entry.source, entry)
    for entry in entries:
        first_by_pair.setdefault((entry.source, entry.target), entry)
    problems = []
    for loaded, entries_of_file in by_file:
        found = []
        for entry in entries_of_file:
            found += _direction_problems(entry, first_by_pair.get((entry.target, entry.source)))
            first, page = first_by_pair[(entry.source, entry.target)], page_of[entry.source]
            if first.loaded is not loaded:
                found.append(entry.problem(f"two files map {entry.source} -> {entry.target or '(no counterpart)'}: "
                                           f"also in {first.loaded.path}"))
            elif page.loaded is not loaded and entry.where[0] == "other_pairs":
                found.append(entry.problem(_second_page(entry, page)))
        first_page = page_of[loaded.mapping.source.api]
        if first_page.loaded is not loaded and not found:
            found.append(Problem(loaded.path, *loaded.position_of("source", "api"), "source.api",
                                 f"two files write the page of {loaded.mapping.source.api} (one page per source API; "
                                 f"list another target under `alternatives`): also in {first_page.loaded.path}"))
        problems += found
    return problems


def _second_page(entry: _Entry, page: _Entry) -> str:
    where = f"{page.loaded.path}, line {page.loaded.line_of(*page.where)}"
    if page.where[0] == "source":
        return (f"{entry.source} has its own page ({where}); one page per source API: "
                "give this target there, under `alternatives`")
    return (f"{entry.source} is on the page of {page.loaded.mapping.source.api} already (`other_pairs` in {where}); "
            "one page per source API: list its targets in one file")


def _direction_problems(entry: _Entry, mirror: _Entry | None) -> list[Problem]:
    """The pair's source must be a ``SOURCE_FRAMEWORK`` API (its target then belongs to the other
    framework: ``schema`` refuses a pair within one); ``mirror``, the pair the right way round, is
    named where another file maps it. An alternative's source is its page's, reported once."""
    source = framework_of(entry.source)
    if source is SOURCE_FRAMEWORK or entry.where[0] == "alternatives":
        return []
    direction = f"pairs go {SOURCE_FRAMEWORK.display} -> {TARGET_FRAMEWORK.display}"
    if mirror is not None and mirror.loaded is not entry.loaded:
        direction += f"; {mirror.source} -> {mirror.target} is mapped in {mirror.loaded.path}"
    return [entry.problem(f"{entry.source} is a {source.display} API, not a source: {direction} "
                          "(source and target swapped?)")]


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
