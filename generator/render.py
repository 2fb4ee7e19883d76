"""Stage 3: turn validated mappings plus execution results into MyST Markdown pages.

The templates in ``templates/`` own the page layout; this module prepares what they show:
escaped text, numbered difference rows, example code with the real outputs woven in.
YAML text is escaped, so it can neither break a table nor inject markup (HTML, roles,
directives) into the site; prose fields keep the safe Markdown subset of ``prose`` (inline
code, emphasis, http(s) links, math, lists) and escape everything else.
"""

from __future__ import annotations

import html
import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import jinja2

from . import ROOT
from .devices import split_label
from .execute import expectation, failure_text
from .frameworks import framework_of
from .loader import LoadedMapping
from .probes import behaviour_view, tolerance_sentence
from .prose import render_block, render_inline
from .reports import example_matrix
from .schema import DEVICES, ApiSide, Example, Mapping, Status, field_reference, numbered_rows

TEMPLATES = ROOT / "templates"

_MARKDOWN_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")


def escape_text(text: str | None) -> str:
    """Plain text -> Markdown that shows exactly that text (every ASCII punctuation escaped)."""
    if not text:
        return ""
    return _MARKDOWN_PUNCTUATION.sub(r"\\\1", text)


def escape_cell(text: str | None) -> str:
    """Plain text -> one table cell: escaped, on one line; empty shows as `-`."""
    if not text:
        return "\\-"
    return escape_text(" ".join(text.split()))


def paragraphs(text: str | None) -> list[str]:
    """Split prose on blank lines; each paragraph escaped and joined onto one line."""
    if not text:
        return []
    return [escape_text(" ".join(block.split())) for block in re.split(r"\n\s*\n", text.strip()) if block.strip()]


def fence(code: str, language: str) -> str:
    """A fenced block that no backtick run inside ``code`` can close early."""
    longest = max((len(run) for run in re.findall(r"`+", code)), default=0)
    ticks = "`" * max(3, longest + 1)
    return f"{ticks}{language}\n{code.rstrip()}\n{ticks}"


@dataclass
class Provenance:
    """Where the outputs on a page came from."""

    versions: dict[str, str] = field(default_factory=dict)  # display name -> version
    device: str = "cpu"
    device_name: str = ""
    dates: set[str] = field(default_factory=set)

    def describe(self) -> str:
        frameworks = " and ".join(f"{name} {version}" for name, version in sorted(self.versions.items()))
        where = self.device.upper() + (f" ({self.device_name})" if self.device_name else "")
        when = ", ".join(sorted(self.dates)) if self.dates else "an unknown date"
        return f"The outputs on this page were printed by {frameworks} on {where}, on {when}."


# What a URL may keep as is: RFC 3986's reserved and unreserved characters and ``%``, except
# those that can end a Markdown link destination or an HTML attribute, or start a role: ``<``,
# ``>``, quotes, backticks, parentheses, backslash, spaces and braces are percent-encoded.
_URL_SAFE = ":/?#[]@!$&*+,;=%-._~"


def safe_url(url: str) -> str:
    """A URL that can sit in a Markdown link destination ``<...>`` and in an ``href`` without
    ending either: every character that could is percent-encoded."""
    return quote(url, safe=_URL_SAFE)


def doc_url(side: ApiSide) -> str:
    if side.url:
        return safe_url(side.url)
    framework = framework_of(side.api)
    return safe_url(framework.doc_url(side.api, side.kind.value))


def commented_output(text: str) -> list[str]:
    return [f"# {line}".rstrip() for line in text.splitlines()] or ["#"]


def code_with_outputs(code: str, result) -> str:
    """The snippet with what each top-level statement printed, as comments right after it."""
    return "\n".join(line for line, _ in woven_lines(code, result))


def woven_lines(code: str, result) -> list[tuple[str, bool]]:
    """``code_with_outputs`` line by line: (line, True where it is an output comment)."""
    lines = code.rstrip().splitlines()
    after: dict[int, list[str]] = defaultdict(list)
    if result is not None:
        for output in result.outputs:
            after[output.line].extend(commented_output(output.text))
        if result.status != "ok":
            line = result.error_line or len(lines)
            after[line].extend(commented_output(failure_text(result)))
    woven: list[tuple[str, bool]] = []
    for number, line in enumerate(lines, start=1):
        woven.append((line, False))
        woven.extend((output, True) for output in after.pop(number, []))
    for remaining in after.values():  # an output attributed beyond the last line
        woven.extend((output, True) for output in remaining)
    return woven


def code_block(code: str, result) -> str:
    """One framework's snippet as a code block whose output lines are marked (emphasized lines).

    The copy button leaves marked lines out, so a reader copies runnable code only."""
    lines = woven_lines(code, result)
    outputs = [str(number) for number, (_, is_output) in enumerate(lines, start=1) if is_output]
    # no-search: example code stays out of the full-text index (API names have their own index).
    options = [":class: mapping-code no-search"] + ([f":emphasize-lines: {','.join(outputs)}"] if outputs else [])
    body = "\n".join(options) + "\n\n" + "\n".join(line for line, _ in lines)
    return fence(body, "{code-block} python")


_MISSING_KERNEL = re.compile(r"kernel \S+ unregistered|not supported on (cpu|gpu|ascend)|no kernel", re.I)
_KERNEL_REJECTS = re.compile(r"KernelMod|kernel", re.I)


def failure_description(result, device: str, framework: str, version: str, declared_devices=None) -> str:
    """What a failure is: a missing kernel on this device, an error on every device, a timeout or a crash.

    ``declared_devices``: the devices on which the example declares this failure, if it does."""
    where = f"{framework} {version} on {device.upper()}"
    text = failure_text(result)
    if result.status == "timeout":
        return f"This example did not finish in time with {where}: {text}"
    if result.status == "crash":
        return f"This example crashed the {framework} process with {where}: {text}"
    everywhere = declared_devices is not None and set(declared_devices) >= set(DEVICES)
    if not everywhere and _MISSING_KERNEL.search(text):
        return f"This example does not run on {device.upper()}: {framework} {version} has no {device.upper()} kernel for it. {text}"
    if not everywhere and (_KERNEL_REJECTS.search(text) or declared_devices is not None):
        return (f"This example does not run on {device.upper()}: the {device.upper()} kernel of {framework} {version} "
                f"rejects it. {text}")
    return (f"This example raises an error with {where}. The error is not about a kernel of this device, "
            f"so it is expected on every device: {text}")


def fails_on_every_device(example: Example, side: str) -> bool:
    """The example declares that this side fails everywhere: it demonstrates an error."""
    return any(failure.side == side and set(failure.devices) >= set(DEVICES)
               for failure in example.expected_failures)


@dataclass
class SideView:
    framework: str
    code: str
    failure: str | None = None
    expected: bool = False
    reason: str | None = None
    not_run: str | None = None  # why this side was not run here (its framework is not installed, say)
    block: str = ""
    key: str = ""
    marks_page: bool = False  # a failure that the page header and the overview row show


@dataclass
class ExampleView:
    number: int
    note: list[str]  # lines of the note as safe Markdown, shown as a quote
    block: str
    sides: list[SideView]
    verdict: str | None
    verdict_detail: str
    matrix: list[tuple[str, str, str]] = field(default_factory=list)
    tolerance: str = ""  # how closely compared outputs must agree, stated where they are compared

    @property
    def failed(self) -> bool:
        return any(side.failure for side in self.sides)

    @property
    def marks_page(self) -> bool:
        return any(side.marks_page for side in self.sides)


def matrix_cell(cell: dict | None) -> str:
    if cell is None:
        return "\\-"
    if cell.get("status") == "not run":
        return "not run here"
    version = f" ({cell['version']})" if cell.get("version") else ""
    return escape_cell(f"failed: {cell['error']}{version}" if cell.get("error") else f"ran{version}")


def example_view(number: int, example: Example, mapping: Mapping, run, device: str, matrix: dict | None = None) -> ExampleView:
    sides = []
    for side in ("source", "target"):
        code = example.code(side)
        if code is None:
            continue
        framework = mapping.side_framework(side)
        result = getattr(run, side) if run is not None else None
        view = SideView(framework.display, code_with_outputs(code, result), block=code_block(code, result),
                        key=framework.key)
        not_run = getattr(run, "not_run", {}).get(side) if run is not None else None
        if not_run is not None:
            view.not_run = f"The {framework.display} side of this example was not run here: {not_run}."
        elif result is not None and result.status != "ok":
            version = result.framework_version or framework.version or "?"
            # a declaration explains only the failure whose error text it names
            view.expected = expectation(example, side, result, device) == "expected-failure"
            expected = example.expected_failure(side, device) if view.expected else None
            view.failure = failure_description(result, device, framework.display, version,
                                               expected.devices if expected else None)
            view.reason = expected.reason if expected else None
            view.marks_page = not fails_on_every_device(example, side)
        sides.append(view)
    block = "\n\n".join(f"# {view.framework}\n{view.code}" for view in sides)
    comparison = getattr(run, "comparison", None) if run is not None else None
    return ExampleView(
        number=number,
        note=render_block(example.note).split("\n") if example.note else [],
        block=fence(block, "python"),
        sides=sides,
        verdict=comparison.verdict if comparison is not None and example.same_values else None,
        verdict_detail=escape_text(comparison.detail) if comparison is not None else "",
        matrix=[(escape_cell(_device_shown(row_device)), matrix_cell(source), matrix_cell(target))
                for row_device, source, target in example_matrix(matrix or {}, mapping.source.api, number)],
        tolerance=tolerance_text(example) if example.same_values else "",
    )


def _device_shown(label: str) -> str:
    kind, model = split_label(label)
    return f"{kind.upper()} ({model})" if model else kind.upper()


def tolerance_text(example: Example) -> str:
    """The comparison rule, as stated on the page below compared outputs (see ``compare``)."""
    return (f"Outputs are compared number by number with rtol={example.tolerance.rtol:g} and "
            f"atol={example.tolerance.atol:g}, each value no more precisely than both sides printed it.")


def provenance_of(mapping: Mapping, runs: dict[int, object], device: str) -> Provenance | None:
    provenance = Provenance(device=device)
    for run in runs.values():
        for side in ("source", "target"):
            result = getattr(run, side, None)
            if result is None:
                continue
            provenance.versions[mapping.side_framework(side).display] = result.framework_version
            provenance.device_name = result.device_name or provenance.device_name
            if result.produced_on:
                provenance.dates.add(result.produced_on)
    return provenance if provenance.versions else None


def _shown_path(path: Path) -> str:
    """The mapping's path as a reader of the repository knows it."""
    for base in (Path.cwd(), ROOT):
        if path.resolve().is_relative_to(base):
            return path.resolve().relative_to(base).as_posix()
    return path.name


@dataclass(frozen=True)
class OverviewRow:
    source: str
    target: str | None
    status: Status
    page_path: str
    failing: bool
    recommended: bool = False  # the target marked recommended among several for one source API
    main: bool = True  # the page's main pair: the row under which the module's toctree lists the page


def overview_rows(mappings: list[LoadedMapping], failing: set[str] = frozenset()) -> list[tuple[str, list[OverviewRow]]]:
    """(source module, its rows sorted by API name), modules sorted by name."""
    by_module: dict[str, list[OverviewRow]] = defaultdict(list)
    for loaded in mappings:
        mapping = loaded.mapping
        for position, (source, target, recommended) in enumerate(mapping.api_pairs()):  # reached from each pair
            by_module[source.rsplit(".", 1)[0]].append(OverviewRow(
                source, target, mapping.status, mapping.page_path, mapping.source.api in failing,
                recommended, position == 0))
    return [(module, sorted(rows, key=lambda row: (row.source, not row.main, row.target or "")))
            for module, rows in sorted(by_module.items())]


def compared_versions() -> str:
    from .frameworks import FRAMEWORKS

    return " and ".join(f"{framework.display} {(framework.version or '(not installed)').split('+')[0]}"
                        for framework in FRAMEWORKS.values())


def marks_page(mapping: Mapping, runs: dict[int, object]) -> bool:
    """Some example of the page failed on the build device, other than one that demonstrates an error."""
    for index, run in runs.items():
        for side in ("source", "target"):
            result = getattr(run, side, None)
            if result is not None and result.status != "ok" and not fails_on_every_device(mapping.examples[index], side):
                return True
    return False


def html_text(text: str | None) -> str:
    """Plain text -> HTML text; dotted names may wrap after a dot, and a long name between its words
    (after an underscore: `binary_cross_<wbr>entropy`), never inside a word."""
    return html.escape(text or "").replace(".", ".<wbr>").replace("_", "_<wbr>")


def name_cell(text: str | None) -> str:
    """A table cell that holds a parameter or value name shows it in code font; other text as text."""
    if text and re.fullmatch(r"[\w.*\[\]=']+", text.strip()) and "`" not in text:
        return f"`{text.strip()}`"
    return escape_cell(text)


class Renderer:
    def __init__(self, templates: Path = TEMPLATES):
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(templates)),
            undefined=jinja2.StrictUndefined,
            keep_trailing_newline=True,
            trim_blocks=True,
            lstrip_blocks=True,
            autoescape=False,  # Markdown, not HTML: escaping is done by the filters below
        )
        self.env.filters.update(text=escape_text, cell=escape_cell, paragraphs=paragraphs, fence=fence,
                                html=html_text, name_cell=name_cell, front=json.dumps,
                                prose=render_block, prose_inline=render_inline, doc_url=doc_url)

    def page(self, loaded: LoadedMapping, runs: dict[int, object] | None = None, device: str = "cpu",
             matrix: dict | None = None, probes=None) -> str:
        mapping = loaded.mapping
        runs = runs or {}
        examples = [
            example_view(index + 1, example, mapping, runs.get(index), device, matrix)
            for index, example in enumerate(mapping.examples)
        ]
        provenance = provenance_of(mapping, runs, device)
        return self.env.get_template("mapping.md.j2").render(
            mapping=mapping,
            source_framework=framework_of(mapping.source.api).display,
            target_framework=mapping.side_framework("target").display,
            source_url=doc_url(mapping.source),
            target_url=doc_url(mapping.target) if mapping.target else None,
            rows=numbered_rows(mapping.differences),
            examples=examples,
            numbered=len(examples) > 1,
            status=mapping.status,
            provenance=provenance.describe() if provenance else None,
            yaml_path=_shown_path(loaded.path),
            behaviour=behaviour_view(mapping, probes),
            probe_tolerance=tolerance_sentence(),
            apis=list(dict.fromkeys(api for pair in mapping.api_pairs() for api in pair[:2] if api)),
            failed_on=device.upper() if any(example.marks_page for example in examples) else None,
            device=device.upper(),
        )

    def overview(self, mappings: list[LoadedMapping], failing: set[str] = frozenset(), device: str = "cpu") -> str:
        modules = overview_rows(mappings, failing)
        counts = {status: sum(1 for m in mappings if m.mapping.status is status) for status in Status}
        return self.env.get_template("overview.md.j2").render(
            modules=modules, total=len(mappings), counts=counts, statuses=list(Status),
            versions=compared_versions(), device=device.upper(), prefix="",
        )

    def module_index(self, module: str, rows: list[OverviewRow], device: str = "cpu") -> str:
        return self.env.get_template("module.md.j2").render(
            module=module, rows=rows, versions=compared_versions(), device=device.upper(), prefix="../")

    def status_table(self) -> str:
        return self.env.get_template("statuses.md.j2").render(statuses=list(Status))

    def coverage(self, modules: list) -> str:
        return self.env.get_template("coverage.md.j2").render(modules=modules)

    def field_reference(self) -> str:
        return self.env.get_template("fields.md.j2").render(fields=field_reference())


def render_site(
    mappings: list[LoadedMapping], runs: dict[tuple[str, int], object], device: str = "cpu",
    coverage: list | None = None, matrix: dict | None = None, probes: dict | None = None,
    reuse: set[str] = frozenset(),
) -> dict[str, str]:
    """Every generated page, keyed by its path relative to the generated folder, but the pages of the
    mappings in ``reuse`` (source APIs whose page on disk is current: ``memo``)."""
    renderer = Renderer()
    runs_by_page = {
        loaded.mapping.source.api: {index: runs[(loaded.mapping.source.api, index)]
                                    for index in range(len(loaded.mapping.examples))
                                    if (loaded.mapping.source.api, index) in runs}
        for loaded in mappings
    }
    failing = {loaded.mapping.source.api for loaded in mappings
               if marks_page(loaded.mapping, runs_by_page[loaded.mapping.source.api])}
    pages = {
        "index.md": renderer.overview(mappings, failing, device),
        "coverage.md": renderer.coverage(coverage or []),
        "_statuses.md": renderer.status_table(),
        "_fields.md": renderer.field_reference(),
    }
    for module, rows in overview_rows(mappings, failing):
        pages[f"modules/{module}.md"] = renderer.module_index(module, rows, device)
    for loaded in mappings:
        if loaded.mapping.source.api in reuse:
            continue
        page_runs = runs_by_page[loaded.mapping.source.api]
        pages[f"{loaded.mapping.page_path}.md"] = renderer.page(loaded, page_runs, device, matrix,
                                                                (probes or {}).get(loaded.mapping.source.api))
    return pages
