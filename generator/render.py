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
from .results import expectation, failure_text
from .frameworks import framework_of
from .i18n import DEFAULT_LANGUAGE, LocalText, _, untranslated, using
from .i18n import current as current_language
from .i18n import gettext as i18n_gettext
from .i18n import ngettext as i18n_ngettext
from .loader import LoadedMapping
from .probes import TOLERANCES, behaviour_view
from .prose import render_block, render_cell, render_inline
from .reports import example_matrix
from .schema import (CATEGORY_TEXT, DEVICES, ROW_LABEL_TEXT, ApiSide, Example, Mapping, Status, field_reference,
                     numbered_rows)

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


def prose_cell(text: str | None) -> str:
    """Prose -> one table cell: the safe Markdown subset of ``prose`` on one line; empty shows as `-`."""
    return render_cell(text) or "\\-"


def paragraphs(text: str | None) -> list[str]:
    """Split prose on blank lines; each paragraph escaped and joined onto one line."""
    if not text:
        return []
    return [escape_text(" ".join(block.split())) for block in re.split(r"\n\s*\n", text.strip()) if block.strip()]


# -- translatable text: the language being rendered, or English marked as untranslated ----------

UNTRANSLATED_ROLE = "untranslated"
_BLOCK_LINE = re.compile(r"^(\s|- |\d+\. )")


def pick(value) -> tuple[str | None, str | None]:
    """(text in the language being rendered, None) or (the fallback text, its language)."""
    if isinstance(value, LocalText):
        return value.pick()
    return value, None


def untranslated_mark(language: str) -> str:
    """The marker beside a text shown in ``language`` because the page's language has none
    (the ``untranslated`` role of ``site``: a small badge whose tooltip says so)."""
    return f"{{{UNTRANSLATED_ROLE}}}`{language}`"


def _marked(rendered: str, fallback: str | None, block: bool) -> str:
    if fallback is None or not rendered:
        return rendered
    mark = untranslated_mark(fallback)
    if not block:
        return f"{rendered} {mark}"
    last = rendered.rsplit("\n", 1)[-1]
    if _BLOCK_LINE.match(last):  # a list ends the text: a line of its own
        return f"{rendered}\n\n{mark}"
    return f"{rendered} {mark}"


def localized(function, block: bool = False):
    """A filter that shows a ``LocalText`` in the language being rendered, marked where it falls
    back to another language; other values pass through ``function`` as they are."""
    def apply(value, *args):
        text, fallback = pick(value)
        return _marked(function(text, *args), fallback, block)
    apply.__name__ = getattr(function, "__name__", "localized")
    return apply


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
        frameworks = _(" and ").join(f"{name} {version}" for name, version in sorted(self.versions.items()))
        where = self.device.upper() + (f" ({self.device_name})" if self.device_name else "")
        when = ", ".join(sorted(self.dates)) if self.dates else _("an unknown date")
        return _("The outputs on this page were printed by {frameworks} on {where}, on {when}.").format(
            frameworks=frameworks, where=where, when=when)


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
    return safe_url(framework.doc_url(side.api, side.kind.value, current_language()))


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
    names = {"framework": framework, "version": version, "device": device.upper()}
    where = _("{framework} {version} on {device}").format(**names)
    text = failure_text(result)
    if result.status == "timeout":
        return _("This example did not finish in time with {where}: {text}").format(where=where, text=text)
    if result.status == "crash":
        return _("This example crashed the {framework} process with {where}: {text}").format(
            framework=framework, where=where, text=text)
    everywhere = declared_devices is not None and set(declared_devices) >= set(DEVICES)
    if not everywhere and _MISSING_KERNEL.search(text):
        return _("This example does not run on {device}: {framework} {version} has no {device} kernel for it. "
                 "{text}").format(**names, text=text)
    if not everywhere and (_KERNEL_REJECTS.search(text) or declared_devices is not None):
        return _("This example does not run on {device}: the {device} kernel of {framework} {version} "
                 "rejects it. {text}").format(**names, text=text)
    return _("This example raises an error with {where}. The error is not about a kernel of this device, "
             "so it is expected on every device: {text}").format(where=where, text=text)


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
        return _("not run here")
    version = f" ({cell['version']})" if cell.get("version") else ""
    if cell.get("error"):
        return escape_cell(_("failed: {error}").format(error=cell["error"]) + version)
    return escape_cell(_("ran") + version)


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
            view.not_run = _("The {framework} side of this example was not run here: {reason}.").format(
                framework=framework.display, reason=not_run)
        elif result is not None and result.status != "ok":
            version = result.framework_version or framework.version or "?"
            # a declaration explains only the failure whose error text it names
            view.expected = expectation(example, side, result, device) == "expected-failure"
            expected = example.expected_failure(side, device) if view.expected else None
            view.failure = failure_description(result, device, framework.display, version,
                                               expected.devices if expected else None)
            view.reason = expected.reason if expected else None  # a LocalText: the template picks the language
            view.marks_page = not fails_on_every_device(example, side)
        sides.append(view)
    block = "\n\n".join(f"# {view.framework}\n{view.code}" for view in sides)
    comparison = getattr(run, "comparison", None) if run is not None else None
    return ExampleView(
        number=number,
        note=localized(render_block, block=True)(example.note).split("\n") if example.note else [],
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
    return _("Outputs are compared number by number with rtol={rtol} and atol={atol}, each value no more "
             "precisely than both sides printed it.").format(rtol=f"{example.tolerance.rtol:g}",
                                                            atol=f"{example.tolerance.atol:g}")


def probe_tolerance_text() -> str:
    """``probes.tolerance_sentence`` in the language being rendered."""
    parts = ", ".join(f"{dtype} rtol={rtol:g} atol={atol:g}" for dtype, (rtol, atol) in TOLERANCES.items())
    return _("Values are compared within the tolerance of their dtype ({parts}); integers and bool exactly; "
             "NaN equals NaN.").format(parts=parts)


def shown_rows(differences) -> list[tuple[str, str, object]]:
    """``schema.numbered_rows`` with the category and the "Parameter 3" label in the page's language."""
    counters: dict[str, int] = {}
    rows = []
    for shown, _label, row in numbered_rows(differences):
        counters[row.category] = counters.get(row.category, 0) + 1
        rows.append((_(CATEGORY_TEXT[row.category]) if shown else "",
                     _(ROW_LABEL_TEXT[row.category]).format(number=counters[row.category]), row))
    return rows


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


def _in_language(method):
    """Run a ``Renderer`` method with ``_`` and the text filters in the renderer's language."""
    def wrapper(self, *args, **kwargs):
        with using(self.language):
            return method(self, *args, **kwargs)
    wrapper.__name__, wrapper.__doc__ = method.__name__, method.__doc__
    return wrapper


class Renderer:
    """Pages in one language (``i18n.LANGUAGES``): the templates' words from the message catalogs
    (``jinja2.ext.i18n``), the mappings' translatable text from their YAML."""

    def __init__(self, templates: Path = TEMPLATES, language: str = DEFAULT_LANGUAGE):
        self.language = language
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(templates)),
            undefined=jinja2.StrictUndefined,
            keep_trailing_newline=True,
            trim_blocks=True,
            lstrip_blocks=True,
            autoescape=False,  # Markdown, not HTML: escaping is done by the filters below
            extensions=["jinja2.ext.i18n"],
        )
        self.env.policies["ext.i18n.trimmed"] = True  # as babel.cfg extracts them
        self.env.install_gettext_callables(i18n_gettext, i18n_ngettext, newstyle=True)
        self.env.filters.update(text=localized(escape_text), cell=localized(escape_cell), paragraphs=paragraphs,
                                fence=fence, html=html_text, name_cell=name_cell, front=json.dumps,
                                prose=localized(render_block, block=True), prose_inline=localized(render_inline),
                                prose_cell=localized(prose_cell),
                                doc_url=doc_url)

    @_in_language
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
            rows=shown_rows(mapping.differences),
            examples=examples,
            numbered=len(examples) > 1,
            status=mapping.status,
            provenance=provenance.describe() if provenance else None,
            yaml_path=_shown_path(loaded.path),
            behaviour=behaviour_view(mapping, probes),
            probe_tolerance=probe_tolerance_text(),
            apis=list(dict.fromkeys(api for pair in mapping.api_pairs() for api in pair[:2] if api)),
            failed_on=device.upper() if any(example.marks_page for example in examples) else None,
            device=device.upper(),
        )

    @_in_language
    def overview(self, mappings: list[LoadedMapping], failing: set[str] = frozenset(), device: str = "cpu") -> str:
        modules = overview_rows(mappings, failing)
        counts = {status: sum(1 for m in mappings if m.mapping.status is status) for status in Status}
        return self.env.get_template("overview.md.j2").render(
            modules=modules, total=len(mappings), counts=counts, statuses=list(Status),
            versions=compared_versions(), device=device.upper(), prefix="",
        )

    @_in_language
    def module_index(self, module: str, rows: list[OverviewRow], device: str = "cpu") -> str:
        return self.env.get_template("module.md.j2").render(
            module=module, rows=rows, versions=compared_versions(), device=device.upper(), prefix="../")

    @_in_language
    def status_table(self) -> str:
        return self.env.get_template("statuses.md.j2").render(statuses=list(Status))

    @_in_language
    def coverage(self, modules: list) -> str:
        return self.env.get_template("coverage.md.j2").render(modules=modules)

    @_in_language
    def field_reference(self) -> str:
        return self.env.get_template("fields.md.j2").render(fields=field_reference())

    @_in_language
    def translation_status(self, mappings: list[LoadedMapping]) -> str:
        """Per mapping, the fields that have no text in this language (shown in another one)."""
        rows = [(loaded.mapping, _shown_path(loaded.path), untranslated(loaded.mapping, self.language))
                for loaded in sorted(mappings, key=lambda loaded: loaded.mapping.page_path)]
        return self.env.get_template("translation.md.j2").render(rows=rows, language=self.language)


def render_site(
    mappings: list[LoadedMapping], runs: dict[tuple[str, int], object], device: str = "cpu",
    coverage: list | None = None, matrix: dict | None = None, probes: dict | None = None,
    reuse: set[str] = frozenset(), language: str = DEFAULT_LANGUAGE,
) -> dict[str, str]:
    """Every generated page in ``language``, keyed by its path relative to the generated folder, but the
    pages of the mappings in ``reuse`` (source APIs whose page on disk is current: ``memo``)."""
    renderer = Renderer(language=language)
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
        "translation.md": renderer.translation_status(mappings),
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
