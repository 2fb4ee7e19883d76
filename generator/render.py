"""Stage 3: turn validated mappings plus execution results into MyST Markdown pages.

The templates in ``templates/`` own the page layout; this module prepares what they show:
escaped text, numbered difference rows, example code with the real outputs woven in.
YAML text is escaped, so it can neither break a table nor inject markup (HTML, roles,
directives) into the site; prose fields keep the safe Markdown subset of ``prose`` (inline
code, emphasis, http(s) links, math, lists) and escape everything else.
"""

from __future__ import annotations

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
from .prose import render_block, render_inline
from .reports import example_matrix
from .schema import ApiSide, Example, Mapping, Status, field_reference, numbered_rows

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
    lines = code.rstrip().splitlines()
    after: dict[int, list[str]] = defaultdict(list)
    if result is not None:
        for output in result.outputs:
            after[output.line].extend(commented_output(output.text))
        if result.status != "ok":
            line = result.error_line or len(lines)
            after[line].extend(commented_output(failure_text(result)))
    woven: list[str] = []
    for number, line in enumerate(lines, start=1):
        woven.append(line)
        woven.extend(after.pop(number, []))
    for remaining in after.values():  # an output attributed beyond the last line
        woven.extend(remaining)
    return "\n".join(woven)


@dataclass
class SideView:
    framework: str
    code: str
    failure: str | None = None
    expected: bool = False
    reason: str | None = None
    not_run: str | None = None  # why this side was not run here (its framework is not installed, say)


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
        api_side = mapping.source if side == "source" else mapping.target
        framework = framework_of(api_side.api)
        result = getattr(run, side) if run is not None else None
        view = SideView(framework.display, code_with_outputs(code, result))
        not_run = getattr(run, "not_run", {}).get(side) if run is not None else None
        if not_run is not None:
            view.not_run = f"The {framework.display} side of this example was not run here: {not_run}."
        elif result is not None and result.status != "ok":
            version = result.framework_version or framework.version or "?"
            view.failure = (
                f"This example does not run on {device.upper()} with {framework.display} {version}: "
                f"{failure_text(result)}"
            )
            # a declaration explains only the failure whose error text it names
            view.expected = expectation(example, side, result, device) == "expected-failure"
            view.reason = example.expected_failure(side, device).reason if view.expected else None
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
        for side, api_side in (("source", mapping.source), ("target", mapping.target)):
            result = getattr(run, side, None)
            if result is None or api_side is None:
                continue
            provenance.versions[framework_of(api_side.api).display] = result.framework_version
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
                                prose=render_block, prose_inline=render_inline, doc_url=doc_url)

    def page(self, loaded: LoadedMapping, runs: dict[int, object] | None = None, device: str = "cpu",
             matrix: dict | None = None) -> str:
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
            target_framework=framework_of(mapping.target.api).display if mapping.target else "MindSpore",
            source_url=doc_url(mapping.source),
            target_url=doc_url(mapping.target) if mapping.target else None,
            rows=numbered_rows(mapping.differences),
            examples=examples,
            numbered=len(examples) > 1,
            status=mapping.status,
            provenance=provenance.describe() if provenance else None,
            yaml_path=_shown_path(loaded.path),
        )

    def overview(self, mappings: list[LoadedMapping]) -> str:
        by_module: dict[str, list[tuple[str, str | None, bool, Mapping]]] = defaultdict(list)
        for loaded in sorted(mappings, key=lambda item: item.mapping.source.api):
            for source, target, recommended in loaded.mapping.api_pairs():  # the page is reached from each pair
                by_module[source.rsplit(".", 1)[0]].append((source, target, recommended, loaded.mapping))
        counts = {status: sum(1 for m in mappings if m.mapping.status is status) for status in Status}
        return self.env.get_template("overview.md.j2").render(
            modules=sorted(by_module.items()), total=len(mappings), counts=counts, statuses=list(Status),
            pages=sorted(loaded.mapping.page_path for loaded in mappings)
        )

    def status_table(self) -> str:
        return self.env.get_template("statuses.md.j2").render(statuses=list(Status))

    def coverage(self, modules: list) -> str:
        return self.env.get_template("coverage.md.j2").render(modules=modules)

    def field_reference(self) -> str:
        return self.env.get_template("fields.md.j2").render(fields=field_reference())


def render_site(
    mappings: list[LoadedMapping], runs: dict[tuple[str, int], object], device: str = "cpu",
    coverage: list | None = None, matrix: dict | None = None,
) -> dict[str, str]:
    """Every generated page, keyed by its path relative to the generated folder."""
    renderer = Renderer()
    pages = {
        "index.md": renderer.overview(mappings),
        "coverage.md": renderer.coverage(coverage or []),
        "_statuses.md": renderer.status_table(),
        "_fields.md": renderer.field_reference(),
    }
    for loaded in mappings:
        api = loaded.mapping.source.api
        page_runs = {index: runs[(api, index)] for index in range(len(loaded.mapping.examples)) if (api, index) in runs}
        pages[f"{loaded.mapping.page_path}.md"] = renderer.page(loaded, page_runs, device, matrix)
    return pages

