"""``python -m generator import PAGE...``: turn hand-written difference pages into mapping YAML.

The pages are Markdown in the form the MindSpore documentation used, in English or Chinese:

    # Differences with torch.X            (also "Function Differences with", "与torch.X的差异",
                                           "比较与torch.X的功能差异")
    ## torch.X                            a ```text or ```python block with the signature,
                                          then "For more information, see [torch.X](url)"
    ## mindspore.Y                        the same for the counterpart ("更多内容详见[..](url)")
    ## Differences                        "PyTorch: ..." and "MindSpore: ..." paragraphs, then the
                                          table: Categories | Subcategories | PyTorch | MindSpore |
                                          Difference (or 分类 | 子类 | PyTorch | MindSpore | 差异)
    ### Code Example 1                    "> note", then a ```python block with a "# PyTorch" half
                                          and a "# MindSpore" half, or one block per side

What the importer decides for the contributor, and warns about so they can check it:

* ``status`` is guessed from the table: every row without a note -> ``consistent``; every note
  a "different parameter names" note -> ``names-differ``; anything else -> ``parameters-differ``.
  Rows for parameters that PyTorch deprecated and MindSpore lacks do not count against
  ``consistent`` or ``names-differ`` (the status criteria allow them). A differently named
  API turns ``consistent`` into ``names-differ``.
* Comment lines right after a ``print(...)`` are the page's copy of the output: they are
  dropped, since outputs come from running the code. Comments that read like prose are
  dropped too but named in a warning.
* ``same_values`` is set wherever both sides print: the real outputs decide, never the ones the
  page typed (a disagreement is for ``verify`` to report). Code that runs on the CPU only as
  written (``.numpy()`` on a tensor, say) gets ``cpu_only: true``.
* Nothing is dropped silently: prose, lists, quotes, tables that are no differences table and
  rows that cannot be placed go under ``remarks`` (or the section they sit in); a code block that
  no marker or import attributes is kept as code in a section, shown but never run; imports
  written once above both halves go to both sides. Each of these is a warning with its line.
* Several source APIs on one page become ``other_pairs``; several targets of one source API
  become ``alternatives`` (a ``mindspore.mint`` target is taken as the recommended one).

Whatever the importer does not understand becomes a warning with its line; the rest of the
page is still imported. A page that cannot give a valid mapping gets a warning and no file. A
page for a framework pair that is not configured (TensorFlow, say) gets one error naming it.
A page whose source API already has a file adds its new pairs to that file (its target as an
alternative, its examples after the file's own; the file is rewritten, so YAML comments in it
are lost); a page whose pairs are all mapped already changes nothing.

Languages. A page written in Chinese (its title or prose is Chinese) gives ``zh_CN`` text. When a
file already maps the page's main pair, the page's text is merged into it as the ``zh_CN`` text
of each field (``summary: {en: ..., zh_CN: ...}``): summaries, remarks, difference notes (rows
matched by category and names), sections, guide items and example notes (matched by position),
notes of alternatives and other pairs (matched by API). Code, signatures and rows are the file's
own: the page adds text only, and what it cannot place is named in a warning. Without such a
file, the mapping is created with every text as ``{zh_CN: ...}`` (the English site shows it,
marked as untranslated, until someone writes the English text).

Hostile pages. A page larger than ``MAX_PAGE_BYTES``, longer than ``MAX_PAGE_LINES`` or with a line
longer than ``MAX_LINE_CHARACTERS`` is refused with a warning at the line where it passes the limit,
before anything is parsed or written. Below the limits the work is linear in the page: every
pattern here is written so that a backtracking matcher never tries one run of characters in many
ways (no two neighbouring quantifiers accept the same character, unless the first is possessive;
patterns that search a text stop at the characters that end what they look for, so no character
is rescanned from many starts), and lines are recognised (fences, headings, table separators) by
plain string operations. Text the importer copies (imports written once above the halves go into
every half, one counterpart's signature into every pair) is counted as it is copied: a page whose
mapping would hold more than a mapping file may (``loader.MAX_FILE_BYTES``) is refused, at the
code block where the count passes that size or else at its title, before anything is written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from .frameworks import FRAMEWORKS, UNCONFIGURED, framework_of
from .i18n import DEFAULT_LANGUAGE, field_path_text, local_texts
from .introspect import outside_strings
from .loader import MAX_FILE_BYTES, load_file
from .portability import lint_code
from .scaffold import dump_mapping, find_mapping_of, flow, mapping_path
from .schema import Mapping

PAGE_SUFFIXES = (".md", ".markdown", ".txt")
# Far above the hand-written pages: the largest page of the import corpus (the seeds, the fixture
# pages, bench_import_corpus.py's pages) has 4.2 KB in 99 lines, its longest line 281 characters.
MAX_PAGE_BYTES = 256 * 1024
MAX_PAGE_LINES = 5_000
MAX_LINE_CHARACTERS = 10_000


@dataclass(frozen=True)
class ImportWarning:  # noqa: A001 - the name the CLI and the docs use; shadows the builtin here only
    path: Path
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


@dataclass
class ImportResult:
    written: list[Path] = field(default_factory=list)
    warnings: list[ImportWarning] = field(default_factory=list)


def import_pages(paths: list[Path], out_dir: Path) -> ImportResult:
    """Import every page in ``paths`` (files, or folders searched for .md/.txt) into ``out_dir``."""
    result = ImportResult()
    out_dir = Path(out_dir)
    for page in _page_files([Path(path) for path in paths], result):
        page_warnings: list[ImportWarning] = []
        try:
            written = _import_page(page, out_dir, page_warnings)
        except Exception as error:  # never let one page stop the others
            page_warnings.append(ImportWarning(page, 1, f"internal error, page not imported: "
                                                        f"{type(error).__name__}: {error}"))
            written = None
        result.warnings.extend(page_warnings)
        if written is not None:
            result.written.append(written)
    return result


def _page_files(paths: list[Path], result: ImportResult) -> list[Path]:
    files = []
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in PAGE_SUFFIXES)
            if not found:
                result.warnings.append(ImportWarning(path, 1, "no .md or .txt pages in this folder"))
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            result.warnings.append(ImportWarning(path, 1, "no such file"))
    return files


# --------------------------------------------------------------------------- blocks


@dataclass
class _Block:
    kind: str  # heading, code, table, quote, para
    line: int
    text: str = ""
    level: int = 0  # heading level
    info: str = ""  # code fence info string
    closed: bool = True  # code fence closed
    rows: list[tuple[int, list[str]]] = field(default_factory=list)  # table rows: (line, cells)


_DASHES = re.compile(r":?-+:?")  # a cell of a table's separator line
_SUBHEADING = re.compile(r"^#{2,6}\s+\S")


def _fence(line: str) -> tuple[str, str] | None:
    """(marker, info word) of a line that opens or closes a code block (up to three spaces, three
    or more backticks or tildes, no backtick after them: "```python"), else None."""
    body = line.lstrip()
    if len(line) - len(body) > 3 or body[:1] not in ("`", "~"):
        return None
    rest = body.lstrip(body[0])
    marker = body[:len(body) - len(rest)]
    if len(marker) < 3 or "`" in rest:
        return None
    words = rest.split(maxsplit=1)
    return marker, words[0] if words else ""


def _heading(line: str) -> tuple[int, str] | None:
    """(level, text) of a heading line (up to three spaces, one to six '#', whitespace, the text;
    a closing run of '#' is no part of the text), else None."""
    body = line.lstrip()
    if len(line) - len(body) > 3:
        return None
    text = body.lstrip("#")
    level = len(body) - len(text)
    if not 1 <= level <= 6 or not text[:1].isspace():
        return None
    return level, text.rstrip().rstrip("#").strip()


def _is_separator_line(line: str) -> bool:
    """Whether ``line`` is the '| --- | :-: |' line under a table's header (outer pipes optional)."""
    text = line.strip()
    text = text[1:] if text.startswith("|") else text
    text = text[:-1] if text.endswith("|") else text
    return all(_DASHES.fullmatch(cell.strip()) for cell in text.split("|"))


def _closes(line: str, marker: str) -> bool:
    """Whether ``line`` closes a code block opened by ``marker`` (the same character, as many or more)."""
    text = line.strip()
    return text.startswith(marker[0] * len(marker)) and not text.strip(marker[0])


def _resumes_markdown(line: str) -> bool:
    """A line inside a code block that looks like the page's Markdown going on: a closing fence
    is missing before it."""
    fence = _fence(line)
    return bool(fence and fence[1]) or bool(_SUBHEADING.match(line))


def _blocks(lines: list[str], warn) -> list[_Block]:
    blocks: list[_Block] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        stripped = line.strip()
        number = index + 1
        fence = _fence(line)
        if fence:
            marker, info = fence
            body, index = [], index + 1
            # The block ends at its closing fence, or before a line that looks like Markdown going on
            # (scanning on would read the rest of the page again for each unclosed fence).
            while index < len(lines) and not _closes(lines[index], marker) and not _resumes_markdown(lines[index]):
                body.append(lines[index])
                index += 1
            closed = index < len(lines) and _closes(lines[index], marker)
            if closed:
                index += 1
            elif index < len(lines):
                warn(number, f"code block opened here is not closed before line {index + 1}, "
                             "which looks like Markdown; the block ends there")
            else:
                warn(number, "code block opened here is never closed; it runs to the end of the page")
            blocks.append(_Block("code", number, "\n".join(body), info=info.lower(), closed=closed))
            continue
        if not stripped:
            index += 1
            continue
        heading = _heading(line)
        if heading:
            blocks.append(_Block("heading", number, heading[1], level=heading[0]))
            index += 1
            continue
        if stripped.startswith("|") or ("|" in stripped and index + 1 < len(lines)
                                        and "-" in lines[index + 1] and _is_separator_line(lines[index + 1])):
            rows = []
            while index < len(lines) and "|" in lines[index] and lines[index].strip():
                rows.append((index + 1, _cells(lines[index])))
                index += 1
            blocks.append(_Block("table", number, rows=rows))
            continue
        if stripped.startswith(">"):
            quoted = []
            while index < len(lines) and lines[index].strip().startswith(">"):
                quoted.append(re.sub(r"^\s*>+\s?", "", lines[index]))
                index += 1
            blocks.append(_Block("quote", number, "\n".join(quoted).strip()))
            continue
        paragraph = []
        while index < len(lines):
            current = lines[index]
            if not current.strip() or _fence(current) or _heading(current) \
                    or current.strip().startswith(("|", ">")):
                break
            paragraph.append(current.strip())
            index += 1
        blocks.append(_Block("para", number, "\n".join(paragraph)))
    return blocks


def _cells(line: str) -> list[str]:
    text = line.strip()
    if text.startswith("|"):
        text = text[1:]
    if text.endswith("|") and not text.endswith("\\|"):
        text = text[:-1]
    return [cell.replace("\\|", "|").strip() for cell in re.split(r"(?<!\\)\|", text)]


# --------------------------------------------------------------------------- recognising text

_KNOWN_ROOTS = "|".join(sorted({root for framework in FRAMEWORKS.values()
                                  for root in (framework.key, *framework.namespaces)}, key=lambda r: (-len(r), r)))
# ASCII identifiers only: in Chinese pages the characters next to a name are no part of it.
_API = rf"(?<![A-Za-z0-9_.])(?:{_KNOWN_ROOTS})(?:\.[A-Za-z_][A-Za-z0-9_]*)+"
_OTHER_ROOTS = "|".join(sorted(UNCONFIGURED, key=lambda r: (-len(r), r)))
_OTHER_API = re.compile(rf"(?<![A-Za-z0-9_.])({_OTHER_ROOTS})(?:\.[A-Za-z_][A-Za-z0-9_]*)+")
_TITLE_PATTERNS = (
    re.compile(rf"^(?:function\s+)?differences?\s+(?:with|from|between)\s+`?({_API})`?", re.IGNORECASE),
    re.compile(rf"^(?:比较)?与\s*`?({_API})`?\s*的(?:功能)?差异"),
)
_API_HEADING = re.compile(rf"^(?:class\s+)?`?({_API})`?\s*(?:\(.*\)\s*)?$")
_ANY_API = re.compile(rf"({_API})")
_DIFFERENCES = re.compile(r"^(?:(?:function|api|main)\s+)?differences?$|^(?:功能)?差异(?:对比|分析)?$", re.IGNORECASE)
_EXAMPLE = re.compile(r"^(?:code\s+examples?|examples?|代码示例|代码样例|示例)\s*(?:\d+\s*)?$", re.IGNORECASE)
_MORE_INFO = re.compile(r"(?:for\s+more\s+(?:information|details),?\s+see|更多内容详见|详见)\s*"
                        r"\[([^\[\]]*)\]\(\s*+<?([^)\s>]*)>?\s*\)", re.IGNORECASE)
_BADGE = re.compile(r"^\s*(?:<a\s[^>]*>\s*<img\s[^>]*>\s*</a>|\[!\[[^\]]*\]\([^)]*\)\]\([^)]*\))\s*$", re.IGNORECASE)
_SUMMARY = re.compile(r"^\s*(?:\*\*\s*)?(pytorch|torch|mindspore)\s*(?:\*\*\s*)?[:：]\s*(?:\*\*\s*)?(.*)$",
                      re.IGNORECASE | re.DOTALL)
_URL = re.compile(r"^https?://\S+$")

# Table header cells -> column roles.
_COLUMNS = (
    ("category", re.compile(r"^(categor(y|ies)|分类|类别|类型|type|kind)$", re.IGNORECASE)),
    ("label", re.compile(r"^(sub-?categor(y|ies)|子类|子类别|items?|项|参数项|name)$", re.IGNORECASE)),
    ("source", re.compile(r"^(pytorch|torch)\b.*|.*\b(pytorch|torch)$", re.IGNORECASE)),
    ("target", re.compile(r"^mindspore\b.*|.*\bmindspore$", re.IGNORECASE)),
    ("note", re.compile(r"^(differences?|差异|差异说明|说明|描述|备注|descriptions?|notes?|remarks?|comments?|details?)$",
                        re.IGNORECASE)),
)
# Row labels ("Parameter 3", "输入1", "Output") and category cells -> schema categories.
_CATEGORIES = (
    ("Parameters", re.compile(r"^(parameters?|参数)\s*(\d+)?$", re.IGNORECASE)),
    ("Inputs", re.compile(r"^(inputs?|输入)\s*(\d+)?$", re.IGNORECASE)),
    ("Outputs", re.compile(r"^(outputs?|输出|returns?|返回值?)\s*(\d+)?$", re.IGNORECASE)),
)
_ABSENT = {"", "-", "—", "–", "--", "/"}
_DEPRECATED = re.compile(r"deprecat|废弃|弃用", re.IGNORECASE)
_RENAMED = re.compile(r"different\s+(?:parameter\s+)?names?|names?\s+(?:are\s+)?differ|"
                      r"(?:parameter\s+)?names?\s+(?:is|are)\s+different|参数名(?:称)?(?:不同|不一致)|名称不同|命名不同",
                      re.IGNORECASE)
_SIDE_MARKER = re.compile(r"^\s*#+\s*(pytorch|torch|mindspore)(?:\s*(?:code|example|示例|代码))?\s*(?:[:：]\s*)?$",
                          re.IGNORECASE)
_PYTHON_INFO = {"", "python", "py", "python3", "pycon", "ipython"}
# Matched line by line: a MULTILINE '^\s*' would rescan a run of blank lines from each of them.
_PRINT_CALL = re.compile(r"\s*print\s*\(")
_IMPORTS = {"source": re.compile(r"\s*(?:import|from)\s+torch\b"),
            "target": re.compile(r"\s*(?:import|from)\s+mindspore\b")}



def _clean_cell(cell: str) -> str | None:
    text = re.sub(r"<br\s*/?>", " ", cell, flags=re.IGNORECASE)
    text = " ".join(text.split())
    if text.startswith("`") and text.endswith("`") and len(text) > 1:
        text = text.strip("`").strip()
    return None if text in _ABSENT else text


def _category_of(text: str) -> tuple[str | None, int | None]:
    text = " ".join(text.replace("`", "").split())
    for category, pattern in _CATEGORIES:
        match = pattern.match(text)
        if match:
            return category, int(match.group(2)) if match.group(2) else None
    return None, None


# --------------------------------------------------------------------------- one page


@dataclass
class _ApiPart:
    api: str
    line: int
    signature: str | None = None
    signature_line: int = 0
    url: str | None = None


@dataclass
class _ExampleDraft:
    line: int
    note: list[str] = field(default_factory=list)
    source: str | None = None
    target: str | None = None
    source_outputs: list[str] = field(default_factory=list)
    target_outputs: list[str] = field(default_factory=list)


class _PageTooLarge(Exception):
    """The mapping from a page would hold more than a mapping file may; ``line`` is where it passes that."""

    def __init__(self, line: int):
        super().__init__(line)
        self.line = line


_TOO_LARGE = (f"the mapping from this page would hold more than {MAX_FILE_BYTES:,} bytes of text, more than a "
              "mapping file may (imports written once above the halves are copied into each half, a "
              "signature into each pair); not imported")


class _Page:
    def __init__(self, path: Path, warnings: list[ImportWarning]):
        self.path = path
        self.warnings = warnings
        self.title_api: str | None = None
        self.title_line = 1
        self.apis: list[_ApiPart] = []
        self.summaries: dict[str, tuple[str, int]] = {}
        self.rows: list[dict] = []
        self.table_seen = False
        self.table_line = 1
        self.examples: list[_ExampleDraft] = []
        self.sections: list[dict] = []
        self.remarks: list[tuple[int, str]] = []  # (line, Markdown) kept under Differences
        self.prose_code: list[tuple[int, str]] = []  # code blocks shown as they are, never run
        self.other_framework: str | None = None
        self.todo_summaries: set[str] = set()
        self.code_characters = 0  # of the examples' code, copies included

    def _count_code(self, characters: int, line: int) -> None:
        """Count example code as it is built: copies of shared imports could otherwise make a small
        page's mapping too large to load, and take minutes to write."""
        self.code_characters += characters
        if self.code_characters > MAX_FILE_BYTES:
            raise _PageTooLarge(line)

    def warn(self, line: int, message: str) -> None:
        self.warnings.append(ImportWarning(self.path, line, message))

    # ---- reading

    def read(self, blocks: list[_Block]) -> None:
        context = "preamble"
        api_part: _ApiPart | None = None
        example: _ExampleDraft | None = None
        pending_note: list[str] = []
        section: dict | None = None
        self.shared_code: list[str] = []  # imports written once above both halves of an example

        def close_example() -> None:
            nonlocal example, pending_note
            if pending_note:
                self.warn(note_line, "note without a code block after it; kept as prose under Differences")
                self.remarks.append((note_line, "\n\n".join(pending_note)))
            example, pending_note = None, []
            self.shared_code = []

        note_line = 1
        for block in blocks:
            if block.kind == "heading":
                if block.level == 1:
                    self._title(block)
                    continue
                close_example()
                section = None
                kind = self._heading_kind(block)
                if kind == "api":
                    api_part = _ApiPart(_API_HEADING.match(block.text.replace("\\_", "_")).group(1), block.line)
                    self.apis.append(api_part)
                    context = "api"
                elif kind == "differences":
                    context = "differences"
                elif kind == "example":
                    context = "example"
                    example = None
                else:
                    context = "section"
                    section = {"title": block.text, "line": block.line, "text": [], "items": [], "code": []}
                    self.sections.append(section)
                continue

            if block.kind == "table" and self._table(block):
                continue  # a differences table, at any heading level
            if context == "preamble":
                if block.kind == "para" and all(_BADGE.match(line) for line in block.text.splitlines()):
                    continue
                self._keep_as_prose(block, "before the first section")
            elif context == "api":
                self._api_block(api_part, block)
            elif context in ("differences", "example"):
                if block.kind == "para" and context == "differences" and _SUMMARY.match(block.text):
                    self._summary(block)
                elif block.kind == "para" and context == "differences" and example is None and not self.examples:
                    self.remarks.append((block.line, block.text))  # free prose under Differences
                elif block.kind in ("quote", "para"):
                    if not pending_note:
                        note_line = block.line
                    pending_note.append(block.text)
                elif block.kind == "code":
                    example, pending_note = self._code(block, example, pending_note)
                elif block.kind == "table":
                    self._keep_as_prose(block, "is not a differences table (no PyTorch and MindSpore columns)")
                else:
                    self._keep_as_prose(block, "in a code example section")
            elif context == "section":
                self._section_block(section, block)
        close_example()

    def _keep_as_prose(self, block: _Block, where: str) -> None:
        """What has no place in the format is kept as prose under Differences, with a warning."""
        text = _block_text(block)
        if not text.strip():
            return
        self.warn(block.line, f"{_what(block)} {where}; kept as prose under Differences")
        if block.kind == "code":
            self.prose_code.append((block.line, text))
        else:
            self.remarks.append((block.line, text))

    def _title(self, block: _Block) -> None:
        if self.title_api is not None:
            self.warn(block.line, "second title; ignored")
            return
        text = block.text.replace("\\_", "_")
        for pattern in _TITLE_PATTERNS:
            match = pattern.match(text)
            if match:
                self.title_api, self.title_line = match.group(1), block.line
                return
        other = _OTHER_API.search(text)
        if other and not _ANY_API.search(text):
            name = UNCONFIGURED[other.group(1)]
            self.other_framework = name
            self.warn(block.line, f"this page maps {name} APIs ({other.group(0)}); the {name} -> MindSpore "
                                  f"pair is not configured (known source frameworks: "
                                  f"{', '.join(f.display for f in FRAMEWORKS.values() if f.key != 'mindspore')}); "
                                  "page not imported")
            return
        found = _ANY_API.search(text)
        if found:
            self.title_api, self.title_line = found.group(1), block.line
            self.warn(block.line, f"title is not 'Differences with {found.group(1)}'; "
                                  f"took {found.group(1)} as the source API")
        else:
            self.warn(block.line, "title names no PyTorch or MindSpore API; ignored")

    def _heading_kind(self, block: _Block) -> str:
        text = block.text.replace("\\_", "_").strip()
        plain = text.strip("`* ").strip()
        if _API_HEADING.match(text):
            return "api"
        if _DIFFERENCES.match(plain):
            return "differences"
        if _EXAMPLE.match(plain):
            return "example"
        return "section"

    def _api_block(self, part: _ApiPart, block: _Block) -> None:
        if block.kind == "code":
            text = _strip_blank_lines(block.text)
            if part.signature is None and text:
                part.signature, part.signature_line = text, block.line
            elif not text:
                self.warn(block.line, f"empty code block under {part.api}; no signature in it")
            else:
                self._keep_as_prose(block, f"after the signature of {part.api}")
            return
        if block.kind == "para":
            match = _MORE_INFO.search(block.text)
            if match:
                url = match.group(2)
                rest = _MORE_INFO.sub("", block.text).strip(" .。\n")
                if _URL.match(url) and part.url is None and not rest:
                    part.url = url
                    return
                if _URL.match(url) and part.url is None:
                    part.url = url
                elif not _URL.match(url):
                    self.warn(block.line, f"link {url!r} is not an http(s) address; not used as the documentation link")
            if all(_BADGE.match(line) for line in block.text.splitlines()):
                return
        self._keep_as_prose(block, f"under {part.api} is neither its signature nor its link")

    def _summary(self, block: _Block) -> None:
        match = _SUMMARY.match(block.text)
        side = "target" if match.group(1).lower() == "mindspore" else "source"
        text = " ".join(match.group(2).split()).strip().strip("*").strip()
        if not text:
            self.warn(block.line, f"empty {match.group(1)} summary")
        elif side in self.summaries:
            self.warn(block.line, f"second {match.group(1)} summary; appended to the first")
            first, line = self.summaries[side]
            self.summaries[side] = (f"{first} {text}", line)
        else:
            self.summaries[side] = (text, block.line)

    def _section_block(self, section: dict, block: _Block) -> None:
        """Paragraphs, lists, quotes and non-difference tables stay the section's Markdown text
        (lists keep their numbers); code is shown as it is."""
        if block.kind == "code":
            if block.text.strip():
                section["code"].append(_block_text(block))
        else:
            section["text"].append(_block_text(block))

    # ---- the table

    def _table(self, block: _Block) -> bool:
        """Read a differences table (True), or leave a table that is none to the caller (False)."""
        rows = block.rows
        header_line, header = rows[0]
        roles: dict[str, int] = {}
        for index, cell in enumerate(header):
            name = " ".join(cell.replace("*", "").split())
            for role, pattern in _COLUMNS:
                if pattern.match(name) and role not in roles:
                    roles[role] = index
                    break
        if "source" not in roles or "target" not in roles or roles["source"] == roles["target"]:
            return False
        if self.table_seen:
            self.warn(block.line, "second differences table; its rows are appended to the first's")
        self.table_seen = True
        self.table_line = block.line
        if not ({"category", "label"} & roles.keys()):
            self.warn(header_line, "table has no Categories / Subcategories column; rows are filed under "
                                   "Parameters unless their names say otherwise")
        if "note" not in roles:
            self.warn(header_line, "table has no Difference column; rows are imported without notes")
        data = rows[1:]
        if data and _is_separator(data[0][1]):
            data = data[1:]
        else:
            self.warn(header_line, "table has no '| --- |' line under its header")
        if not data:
            self.warn(header_line, "table has a header but no rows")
        category = None
        counters: dict[str, int] = {}
        for line, cells in data:
            if len(cells) > len(header):
                self._keep_row(line, cells, f"table row has {len(cells)} cells, the header has {len(header)}")
                continue
            if len(cells) < len(header):
                self.warn(line, f"table row has {len(cells)} cells, the header has {len(header)}; "
                                "the missing cells are taken as empty")
                cells = cells + [""] * (len(header) - len(cells))
            label_text = cells[roles["label"]] if "label" in roles else ""
            category_text = cells[roles["category"]] if "category" in roles else ""
            from_label, number = _category_of(label_text) if label_text.strip() else (None, None)
            from_category, _ = _category_of(category_text) if category_text.strip() else (None, None)
            row_category = from_label or from_category or category
            unknown = [f"{what} {text.strip()!r}" for what, text, known in (
                ("category", category_text, from_category), ("row label", label_text, from_label))
                if text.strip() and known is None]
            if row_category is None and not ({"category", "label"} & roles.keys()):
                row_category = "Parameters"
            if unknown:
                where = f"filed under {row_category}" if row_category else "kept as prose"
                self.warn(line, f"{' and '.join(unknown)} not understood (expected Parameters, Inputs, Outputs "
                                f"/ 'Parameter N', 'Input N', 'Output'); {where}")
                if row_category is None:
                    self._keep_row(line, cells, None)
                    continue
            elif row_category is None:
                self._keep_row(line, cells, "row has no category (Parameters, Inputs or Outputs)")
                continue
            if from_label and from_category and from_label != from_category:
                self.warn(line, f"row label {label_text.strip()!r} does not belong to category "
                                f"{category_text.strip()!r}; filed under {from_label}")
            category = from_category or row_category if category_text.strip() else row_category
            source = _clean_cell(cells[roles["source"]])
            target = _clean_cell(cells[roles["target"]])
            note = _clean_cell(cells[roles["note"]]) if "note" in roles else None
            if source is None and target is None:
                self._keep_row(line, cells, "row names no parameter on either side")
                continue
            counters[row_category] = counters.get(row_category, 0) + 1
            if number is not None and number != counters[row_category]:
                self.warn(line, f"row says {label_text.strip()!r} but is number {counters[row_category]} of "
                                f"its category; numbers follow the order of the rows")
            row = {"category": row_category}
            if source is not None:
                row["source"] = source
            if target is not None:
                row["target"] = target
            if note is not None:
                row["note"] = note
            row["_line"] = line
            self.rows.append(row)
        return True

    def _keep_row(self, line: int, cells: list[str], why: str | None) -> None:
        if why:
            self.warn(line, f"{why}; kept as prose under Differences")
        text = " | ".join(cell.strip() for cell in cells if cell.strip())
        if text:
            self.remarks.append((line, text))

    # ---- code examples

    def _code(self, block: _Block, example: _ExampleDraft | None, note: list[str]):
        if block.info not in _PYTHON_INFO:
            self._keep_as_prose(block, f"(```{block.info}) in a code example, not Python")
            return example, note
        if _only_imports(block.text) and not any(_SIDE_MARKER.match(line) for line in block.text.split("\n")):
            self.shared_code = [line for line in block.text.split("\n") if line.strip()]
            return example, note  # imports written once for both sides
        halves = self._halves(block)
        for side, code, outputs in halves:
            if self.shared_code:
                present = set(code.split("\n"))
                shared = "\n".join(line for line in self.shared_code if line not in present)
                self._count_code(len(shared), block.line)
                code = shared + "\n" + code
            if example is None or getattr(example, side) is not None:
                example = _ExampleDraft(block.line)
                self.examples.append(example)
            if note:
                example.note.extend(note)
                note = []
            setattr(example, side, code)
            getattr(example, f"{side}_outputs").extend(outputs)
        return example, note

    def _halves(self, block: _Block) -> list[tuple[str, str, list[str]]]:
        lines = block.text.split("\n")
        marks = [(index, "target" if m.group(1).lower() == "mindspore" else "source")
                 for index, m in ((i, _SIDE_MARKER.match(line)) for i, line in enumerate(lines)) if m]
        parts: list[tuple[str, int, list[str]]] = []
        if not marks:
            side = self._side_of(block.text)
            if side is None:
                self._keep_as_prose(block, "has no '# PyTorch' / '# MindSpore' marker and imports both or "
                                           "neither framework")
                return []
            parts.append((side, block.line + 1, lines))
        else:
            before = [line for line in lines[:marks[0][0]] if line.strip()]
            if before and _only_imports("\n".join(before)):
                shared = before  # imports above both halves go to both sides
            else:
                shared = []
                if before:
                    self._keep_as_prose(_Block("code", block.line + 1, "\n".join(before)),
                                        "before the first '# PyTorch' / '# MindSpore' marker")
            for number, (index, side) in enumerate(marks):
                end = marks[number + 1][0] if number + 1 < len(marks) else len(lines)
                parts.append((side, block.line + 2 + index, shared + lines[index + 1:end]))
        result = []
        seen = set()
        for side, first_line, part in parts:
            self._count_code(sum(map(len, part)) + len(part), first_line)
            code, outputs = self._drop_outputs(part, first_line)
            if not code.strip():
                self.warn(first_line, f"no {FRAMEWORKS['torch' if side == 'source' else 'mindspore'].display} "
                                      f"code after its marker; not imported")
                continue
            if side in seen:
                self.warn(first_line, "a second half for the same framework in one block; "
                                      "it starts a new example")
            seen.add(side)
            result.append((side, code, outputs))
        return result

    @staticmethod
    def _side_of(code: str) -> str | None:
        lines = code.split("\n")
        imported = [side for side, pattern in _IMPORTS.items() if any(pattern.match(line) for line in lines)]
        return imported[0] if len(imported) == 1 else None

    def _drop_outputs(self, lines: list[str], first_line: int) -> tuple[str, list[str]]:
        """Code without the output comments after each print(...), and those outputs."""
        kept: list[str] = []
        outputs: list[str] = []
        index = 0
        while index < len(lines):
            line = lines[index]
            kept.append(line)
            index += 1
            if not _PRINT_CALL.match(line):
                continue
            depth = _paren_balance(line)
            while depth > 0 and index < len(lines):
                kept.append(lines[index])
                depth += _paren_balance(lines[index])
                index += 1
            dropped = []
            while index < len(lines) and lines[index].strip().startswith("#"):
                dropped.append((first_line + index, lines[index].strip().lstrip("#").strip()))
                index += 1
            for number, text in dropped:
                if _looks_like_prose(text):
                    self.warn(number, f"comment after print(...) dropped as output, but it reads like prose: {text!r}")
            if dropped:
                outputs.append("\n".join(text for _, text in dropped))
        code = _strip_blank_lines("\n".join(line.rstrip() for line in kept))
        return (code + "\n" if code else ""), outputs

    # ---- building the mapping

    def mapping_data(self) -> dict | None:
        if self.other_framework:
            return None
        sources, targets = self._parts()
        if not sources:
            return None
        main = sources[0]
        if not targets:
            self.warn(self.title_line, f"no '## mindspore.…' section names the counterpart of {main.api}; "
                                       "page not imported")
            return None
        pairs = _pair_up(sources, targets)
        main_target = pairs[0][1]
        data = {"source": self._side(main, "source"), "target": self._side(main_target, "target")}
        used = {id(target) for _, target in pairs}
        alternatives = [{"target": self._side(target, "target")} for target in targets if id(target) not in used]
        if alternatives:
            data["alternatives"] = alternatives
        other_pairs = [{"source": self._side(source, "source"), "target": self._side(target, "target")}
                       for source, target in pairs[1:]]
        if other_pairs:
            data["other_pairs"] = other_pairs
        data["status"] = self._status(main.api, main_target.api)
        if self.remarks:
            data["remarks"] = "\n\n".join(text for _, text in self.remarks)
        rows = [flow({key: value for key, value in row.items() if key != "_line"}) for row in self.rows]
        if rows:
            data["differences"] = rows
        sections = []
        for section in self.sections:
            entry = {"title": section["title"]}
            if section["text"]:
                entry["text"] = "\n\n".join(section["text"])
            if section["code"]:
                entry["code"] = section["code"]
            if len(entry) > 1:
                sections.append(entry)
            else:
                self.warn(section["line"], f"section '{section['title']}' has no text; only its title was there")
        if self.prose_code:
            sections.append({"title": "Code on the original page", "code": [text for _, text in self.prose_code]})
        if sections:
            data["sections"] = sections
        examples = [self._example(draft) for draft in self.examples]
        if examples:
            data["examples"] = examples
        else:
            self.warn(self.title_line, "no code example found")
        return data

    def _parts(self) -> tuple[list[_ApiPart], list[_ApiPart]]:
        """(source parts, main one first; target parts) of the page. When the title and the
        sections name different APIs, the section (which carries the signature) wins."""
        if self.title_api is None and not self.apis:
            self.warn(1, "no title ('# Differences with torch.…') and no API sections; page not imported")
            return [], []
        source_api = self.title_api
        if source_api is None:
            source_api = self.apis[0].api
            self.warn(1, f"no title ('# Differences with torch.…'); took {source_api} from the first API section")
        framework = framework_of(source_api)
        same = [part for part in self.apis if framework_of(part.api) == framework]
        others = [part for part in self.apis if framework_of(part.api) != framework]
        if not same:
            self.warn(self.title_line, f"no '## {source_api}' section with its signature")
            return [_ApiPart(source_api, self.title_line)], others
        main = next((part for part in same if part.api == source_api), None)
        if main is None:
            main = same[0]
            self.warn(main.line, f"the title names {source_api} but the section is '## {main.api}'; "
                                 f"the section's API is used")
        sources = [main] + [part for part in same if part is not main and part.api != main.api]
        if len(sources) > 1:
            self.warn(sources[1].line, f"the page covers {len(sources)} source APIs; each is a pair on one page")
        if len(others) > len(sources):
            self.warn(others[0].line, f"{len(others)} counterparts for {len(sources)} source API(s); the ones not "
                                      "paired are listed as alternatives, check which is recommended")
        return sources, others
    def _side(self, part: _ApiPart, role: str) -> dict:
        display = FRAMEWORKS[framework_of(part.api).key].display
        signature = part.signature
        if signature is None:
            self.warn(part.line, f"no signature block for {part.api}; a TODO placeholder is written instead")
            signature = f"TODO: the signature of {part.api}"
        kind = _kind(part.api, signature)
        summary, _ = self.summaries.get(role, (None, 0))
        if summary is None and role not in self.todo_summaries:
            self.todo_summaries.add(role)
            self.warn(part.line, f"no '{display}: …' summary after the Differences heading; the page's other "
                                 "prose is kept under Differences, no summary is written")
        side = {"api": part.api, "kind": kind, "signature": signature}
        if summary is not None:
            side["summary"] = summary
        if part.url:
            side["url"] = part.url
        return side

    def _status(self, source_api: str, target_api: str) -> str:
        if not self.table_seen or not self.rows:
            what = "no differences table" if not self.table_seen else "the differences table has no rows"
            self.warn(self.title_line, f"{what}; status set to parameters-differ as a guess, check it")
            return "parameters-differ"
        verdicts = []
        for row in self.rows:
            note = row.get("note")
            both = "source" in row and "target" in row
            if note is None:
                verdicts.append("same" if both else "differs")
            elif _DEPRECATED.search(note) and "target" not in row:
                verdicts.append("same")
            elif both and _RENAMED.search(note):
                verdicts.append("renamed")
            else:
                verdicts.append("differs")
        same_name = source_api.rsplit(".", 1)[1] == target_api.rsplit(".", 1)[1]
        if all(verdict == "same" for verdict in verdicts) and same_name:
            status = "consistent"
        elif all(verdict in ("same", "renamed") for verdict in verdicts):
            status = "names-differ"
        else:
            status = "parameters-differ"
        self.warn(self.table_line, f"status guessed as {status} from the table; check it")
        return status

    def _example(self, draft: _ExampleDraft) -> dict:
        """Comparison is on wherever both sides print: the frameworks' real outputs decide, never
        the outputs typed on the page (which are dropped)."""
        example: dict = {}
        note = "\n\n".join(part.strip() for part in draft.note if part.strip()) or None
        if note:
            example["note"] = note
        if draft.source:
            example["source"] = draft.source
        if draft.target:
            example["target"] = draft.target
        if draft.source and draft.target and _prints(draft.source) and _prints(draft.target):
            example["same_values"] = True
        host_only = [message for side, code in (("torch", draft.source), ("mindspore", draft.target)) if code
                     for _, _, message in lint_code(side, code)]
        if host_only:  # the page's code as written runs on the CPU only: say so rather than rewrite it
            example["cpu_only"] = True
            self.warn(draft.line, f"example runs on the CPU only ({host_only[0]}); cpu_only set")
        return example


def _pair_up(sources: list[_ApiPart], targets: list[_ApiPart]) -> list[tuple[_ApiPart, _ApiPart]]:
    """Each source API with its counterpart: same last name and both methods (or both not) first,
    then the target in the same position, then the first. One source alone takes a ``mint`` target
    (the recommended kind in current MindSpore) before the others."""
    def score(source: _ApiPart, target: _ApiPart) -> tuple:
        same_name = source.api.rsplit(".", 1)[1].lower() == target.api.rsplit(".", 1)[1].lower()
        same_kind = (".Tensor." in source.api) == (".Tensor." in target.api)
        return (same_name and same_kind, same_kind, ".mint." in target.api)
    pairs = []
    for position, source in enumerate(sources):
        ranked = sorted(enumerate(targets), key=lambda item: (*score(source, item[1]), item[0] == position),
                        reverse=True)
        best = ranked[0][1]
        if not score(source, best)[0] and position < len(targets) and len(sources) > 1:
            best = targets[position]
        pairs.append((source, best))
    return pairs


def _prints(code: str) -> bool:
    return any(_PRINT_CALL.match(line) for line in code.split("\n"))


def _only_imports(code: str) -> bool:
    lines = [line for line in code.split("\n") if line.strip() and not line.strip().startswith("#")]
    return bool(lines) and all(re.match(r"^(import\s+\w|from\s+[\w.]+\s+import\s)", line) for line in lines)


def _block_text(block: _Block) -> str:
    """A block as Markdown source again (tables from their cells; quotes without their '>')."""
    if block.kind == "table":
        return "\n".join("| " + " | ".join(cells) + " |" for _, cells in block.rows)
    return block.text


def _is_separator(cells: list[str]) -> bool:
    filled = [cell.strip() for cell in cells if cell.strip()]
    return bool(filled) and all(_DASHES.fullmatch(cell) for cell in filled)


def _what(block: _Block) -> str:
    return {"code": "code block", "table": "table", "quote": "quote", "para": "paragraph"}.get(block.kind, block.kind)


def _kind(api: str, signature: str) -> str:
    if re.match(r"^\s*class\s", signature):
        return "class"
    if ".Tensor." in api:
        return "method"
    return "function"


def _strip_blank_lines(text: str) -> str:
    lines = text.split("\n")
    filled = [index for index, line in enumerate(lines) if line.strip()]
    if not filled:
        return ""
    return "\n".join(line.rstrip() for line in lines[filled[0]:filled[-1] + 1])


def _paren_balance(line: str) -> int:
    """Brackets opened minus closed on a line of code, up to a comment."""
    balance = 0
    for _, char, _ in outside_strings(line):
        if char == "#":
            break
        balance += (char in "([{") - (char in ")]}")
    return balance


def _looks_like_prose(text: str) -> bool:
    words = re.findall(r"[A-Za-z]{2,}", text)
    return len(words) >= 3 and not re.search(r"[\d\[\]()=]", text) or bool(re.search(r"[\u4e00-\u9fff]", text))


def _decode(path: Path, page: _Page) -> list[str] | None:
    """The page's lines, or None (with a warning at the line to blame) for a page that cannot be
    read, is no UTF-8 text, is empty or passes a size limit."""
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_PAGE_BYTES + 1)
    except OSError as error:
        page.warn(1, f"cannot read the page: {error}")
        return None
    if len(data) > MAX_PAGE_BYTES:
        page.warn(data[:MAX_PAGE_BYTES].count(b"\n") + 1, f"the page is larger than {MAX_PAGE_BYTES:,} bytes "
                                                         "(it passes that size on this line); not imported")
        return None
    if b"\x00" in data:
        page.warn(data[:data.index(b"\x00")].count(b"\n") + 1, "binary data, not a Markdown page; not imported")
        return None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        page.warn(data[:error.start].count(b"\n") + 1, f"not UTF-8 text ({error.reason}); page not imported")
        return None
    if not text.strip():
        page.warn(1, "the page is empty; not imported")
        return None
    lines = text.splitlines()
    if len(lines) > MAX_PAGE_LINES:
        page.warn(MAX_PAGE_LINES + 1, f"the page has {len(lines):,} lines, more than the {MAX_PAGE_LINES:,} "
                                      "a page may have; not imported")
        return None
    long_line = next((number for number, line in enumerate(lines, start=1) if len(line) > MAX_LINE_CHARACTERS), None)
    if long_line is not None:
        page.warn(long_line, f"this line has {len(lines[long_line - 1]):,} characters, more than the "
                             f"{MAX_LINE_CHARACTERS:,} a line may have; page not imported")
        return None
    return lines


def _import_page(path: Path, out_dir: Path, warnings: list[ImportWarning]) -> Path | None:
    page = _Page(path, warnings)
    lines = _decode(path, page)
    if lines is None:
        return None
    try:
        page.read(_blocks(lines, page.warn))
    except _PageTooLarge as error:
        page.warn(error.line, _TOO_LARGE)
        return None
    data = page.mapping_data()
    if data is None:
        return None
    if _text_size(data) > MAX_FILE_BYTES:
        page.warn(page.title_line, _TOO_LARGE)
        return None
    try:
        Mapping.model_validate(data)
    except ValidationError as error:
        for item in error.errors():
            where = ".".join(str(part) for part in item["loc"])
            page.warn(page.title_line, f"the page gives no valid mapping ({where}: {item['msg']}); not imported")
        return None
    target = mapping_path(data["source"]["api"], out_dir)
    language = page_language(lines)
    if language != DEFAULT_LANGUAGE:
        existing = target if target.exists() else find_mapping_of(data["source"]["api"], out_dir)
        if existing is not None and _maps_main_pair(existing, data):
            return _merge_translation(existing, data, language, path, page)
        data = in_language(data, language)
    if target.exists():
        return _merge(target, data, path, page)
    existing = find_mapping_of(data["source"]["api"], out_dir)
    if existing is not None:
        page.warn(page.title_line, f"{data['source']['api']} is already mapped in {existing} "
                                   "(one page per source API); not imported")
        return None
    text = dump_mapping(data, [f"Imported from {path.name}; check what the importer's warnings name."])
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        with target.open("x", encoding="utf-8") as handle:
            handle.write(text)
    except FileExistsError:
        page.warn(page.title_line, f"{target} already exists; not overwritten")
        return None
    loaded, problems = load_file(target)
    if problems:
        target.unlink()
        for problem in problems:
            page.warn(page.title_line, f"written mapping did not load ({problem.message}); removed")
        return None
    return target


def _text_size(data) -> int:
    """UTF-8 bytes in the strings of a mapping's data, counted until they pass ``MAX_FILE_BYTES``
    (one string may be shared by many entries: the count is of the text written, not held)."""
    total, pending = 0, [data]
    while pending and total <= MAX_FILE_BYTES:
        value = pending.pop()
        if isinstance(value, str):
            total += len(value.encode("utf-8"))
        elif isinstance(value, dict):
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
    return total


_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def page_language(lines: list[str]) -> str:
    """``zh_CN`` for a page whose title or prose (outside code blocks) is Chinese, else English."""
    title = next((line for line in lines if line.startswith("# ")), "")
    if _CJK.search(title):
        return "zh_CN"
    prose, fenced = [], False
    for line in lines:
        if line.lstrip().startswith("```"):
            fenced = not fenced
        elif not fenced:
            prose.append(line)
    return "zh_CN" if len(_CJK.findall("\n".join(prose))) >= 20 else DEFAULT_LANGUAGE


def _dig(data, path: tuple):
    for part in path:
        if isinstance(part, int):
            if not isinstance(data, list) or part >= len(data):
                return None
        elif not isinstance(data, dict) or part not in data:
            return None
        data = data[part]
    return data


def _put(data, path: tuple, value) -> None:
    _dig(data, path[:-1])[path[-1]] = value


def in_language(data: dict, language: str) -> dict:
    """``data`` (a mapping's plain data) with every translatable text given as ``{language: text}``."""
    for path, text in local_texts(Mapping.model_validate(data)):
        if isinstance(_dig(data, path), str):
            _put(data, path, {language: str(text)})
    return data


def _maps_main_pair(existing: Path, data: dict) -> bool:
    loaded, problems = load_file(existing)
    if loaded is None or problems:
        return False
    main = (data["source"]["api"], data["target"]["api"] if data.get("target") else None)
    return main in {pair[:2] for pair in loaded.mapping.api_pairs()}


def _counterpart(path: tuple, incoming: Mapping, base: Mapping) -> tuple | None:
    """Where the text at ``path`` of the imported page goes in the existing mapping, if anywhere."""
    head, rest = path[0], path[1:]
    if head in ("remarks",):
        return path
    if head == "source":
        return path if base.source.api == incoming.source.api else None
    if head == "target":
        if base.target is not None and incoming.target is not None and base.target.api == incoming.target.api:
            return path
        found = next((index for index, alternative in enumerate(base.alternatives)
                      if incoming.target is not None and alternative.target.api == incoming.target.api), None)
        return None if found is None else ("alternatives", found, "target", *rest)
    if head == "differences":
        row = incoming.differences[rest[0]]
        found = next((index for index, mine in enumerate(base.differences)
                      if (mine.category, mine.source, mine.target) == (row.category, row.source, row.target)), None)
        return None if found is None else ("differences", found, *rest[1:])
    if head == "alternatives":
        api = incoming.alternatives[rest[0]].target.api
        found = next((index for index, mine in enumerate(base.alternatives) if mine.target.api == api), None)
        if found is None and base.target is not None and base.target.api == api and rest[1:] == ("target", "summary"):
            return ("target", "summary")
        return None if found is None else ("alternatives", found, *rest[1:])
    if head == "other_pairs":
        pair = incoming.other_pairs[rest[0]]
        key = (pair.source.api, pair.target.api if pair.target else None)
        found = next((index for index, mine in enumerate(base.other_pairs)
                      if (mine.source.api, mine.target.api if mine.target else None) == key), None)
        return None if found is None else ("other_pairs", found, *rest[1:])
    return path  # sections, guide, examples, probes: by position


def _replace_with_merged(page: _Page, existing: Path, merged: dict, comment: str) -> bool:
    """Write ``merged`` over ``existing`` (through a temporary file, so a failure leaves it whole), or
    warn and keep ``existing`` when ``merged`` is no valid mapping."""
    try:
        Mapping.model_validate(merged)
    except ValidationError as error:
        page.warn(page.title_line, f"merging into {existing} gives no valid mapping ({error.errors()[0]['msg']}); "
                                   "not imported")
        return False
    temporary = existing.with_name(existing.name + ".import-tmp")
    temporary.write_text(dump_mapping(merged, [comment]), encoding="utf-8")
    temporary.replace(existing)
    return True


def _merge_translation(existing: Path, data: dict, language: str, page_path: Path, page: _Page) -> Path | None:
    """Merge a page in ``language`` into the file that maps its main pair, as that language's text."""
    loaded, problems = load_file(existing)
    if loaded is None or problems:
        page.warn(page.title_line, f"{existing} already exists and does not load; not overwritten")
        return None
    incoming = Mapping.model_validate(data)
    merged = loaded.mapping.model_dump(mode="json", exclude_defaults=True)
    placed, kept, unplaced = 0, [], []
    for path, text in local_texts(incoming):
        where = _counterpart(path, incoming, loaded.mapping)
        parent = _dig(merged, where[:-1]) if where else None
        index_ok = where is not None and (not isinstance(where[-1], int) or
                                          (isinstance(parent, list) and where[-1] < len(parent)))
        if where is None or not isinstance(parent, (dict, list)) or not index_ok:
            unplaced.append(field_path_text(path))
            continue
        current = parent[where[-1]] if isinstance(parent, list) else parent.get(where[-1])
        texts = {DEFAULT_LANGUAGE: current} if isinstance(current, str) else dict(current or {})
        if texts.get(language) not in (None, str(text)):
            kept.append(field_path_text(where))
            continue
        texts[language] = str(text)
        parent[where[-1]] = texts
        placed += 1
    if not _replace_with_merged(page, existing, merged, f"{language} text merged from {page_path.name}."):
        return None
    page.warn(page.title_line, f"the page is in {language}: its text was merged into {existing} as the {language} "
                               f"text of {placed} fields")
    if kept:
        page.warn(page.title_line, f"{len(kept)} fields already had other {language} text, kept: {', '.join(kept)}")
    if unplaced:
        page.warn(page.title_line, f"{len(unplaced)} texts have no counterpart in {existing} and were not merged: "
                                   + ", ".join(unplaced))
    return existing


def _merge(existing: Path, data: dict, page_path: Path, page: _Page) -> Path | None:
    """A page that maps an already-mapped source API to another counterpart: its pairs are added
    to the existing file (its target as an alternative, its examples after the file's own).
    A page whose pairs are all mapped already changes nothing."""
    loaded, problems = load_file(existing)
    if loaded is None or problems:
        page.warn(page.title_line, f"{existing} already exists and does not load; not overwritten")
        return None
    mapped = {pair[:2] for pair in loaded.mapping.api_pairs()}
    incoming = Mapping.model_validate(data).api_pairs()
    if all(pair[:2] in mapped for pair in incoming):
        page.warn(page.title_line, f"{existing} already exists and maps these pairs; not overwritten")
        return None
    merged = loaded.mapping.model_dump(mode="json", exclude_defaults=True)
    main_target = data["target"]
    if (data["source"]["api"], main_target["api"]) not in mapped:
        note = [main_target["summary"]] + [
            "- " + " | ".join(str(row.get(key, "-")) for key in ("source", "target", "note")) for row in
            data.get("differences", [])]
        merged.setdefault("alternatives", []).append({"target": main_target, "note": "\n\n".join(note[:1]) +
                                                      ("\n\n" + "\n".join(note[1:]) if note[1:] else "")})
    merged["alternatives"] = merged.get("alternatives", []) + [
        alternative for alternative in data.get("alternatives", [])
        if (data["source"]["api"], alternative["target"]["api"]) not in mapped]
    if not merged["alternatives"]:
        del merged["alternatives"]
    merged_pairs = [pair for pair in data.get("other_pairs", [])
                    if (pair["source"]["api"], pair["target"]["api"]) not in mapped]
    if merged_pairs:
        merged["other_pairs"] = merged.get("other_pairs", []) + merged_pairs
    merged["examples"] = merged.get("examples", []) + data.get("examples", [])
    if data.get("remarks"):
        merged["remarks"] = "\n\n".join(filter(None, [merged.get("remarks"), data["remarks"]]))
    merged["sections"] = merged.get("sections", []) + data.get("sections", [])
    merged = {key: value for key, value in merged.items() if value != []}
    if not _replace_with_merged(page, existing, merged, f"Merged with {page_path.name}: a further counterpart of "
                                f"{data['source']['api']}; check which target is recommended."):
        return None
    page.warn(page.title_line, f"{data['source']['api']} was already mapped in {existing}; this page's pairs "
                               "were merged into it (its target as an alternative): check which is recommended")
    return existing
