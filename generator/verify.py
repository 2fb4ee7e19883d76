"""``python -m generator verify``: one gate for CI.

Checks, each a ``Finding`` pointing at a YAML line:
  example      an example failed where the mapping declares no such failure for this device
               (or a declared failure did not happen, so the declaration is stale)
  agreement    two sides meant to print the same values printed different ones
  signature    the parameters a mapping lists differ from the installed API's real signature
  api          a source or target API does not exist in the installed framework
  site         the overview and the pages disagree, or an internal link is broken
Findings of severity "unchecked" (a signature that cannot be introspected) are reported but
do not fail the run.
"""

from __future__ import annotations

import difflib
import posixpath
import re
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from markdown_it import MarkdownIt

from .execute import expectation, failure_text
from .frameworks import framework_of
from .introspect import ApiNotFound, signature_of
from .loader import LoadedMapping
from .schema import Mapping

ERROR = "error"
UNCHECKED = "unchecked"


@dataclass(frozen=True)
class Finding:
    check: str  # example | agreement | signature | api | site
    path: Path
    line: int
    message: str
    severity: str = ERROR
    name: str = ""  # test-case name for JUnit, e.g. "torch.nn.L1Loss::example 1::target"

    def __str__(self) -> str:
        marker = "" if self.severity == ERROR else f" ({self.severity})"
        return f"{self.path}:{self.line}: [{self.check}]{marker} {self.message}"


def planned_checks(mapping: Mapping) -> list[tuple[int | None, str]]:
    """Every check on one mapping, as (example index, part): ``(None, side)`` checks a side's API
    and signature, ``(index, side)`` one side of an example, ``(index, "agreement")`` its two sides."""
    checks: list[tuple[int | None, str]] = [(None, side) for side in ("source", "target") if getattr(mapping, side)]
    for index, example in enumerate(mapping.examples):
        checks += [(index, side) for side in ("source", "target") if example.code(side) is not None]
        if example.same_values:
            checks.append((index, "agreement"))
    return checks


def check_name(api: str, index: int | None, part: str) -> str:
    """A check's name in findings and JUnit, e.g. "torch.nn.L1Loss::example 1::target"."""
    return f"{api}::{part} signature" if index is None else f"{api}::example {index + 1}::{part}"


# --------------------------------------------------------------------------- shards


def parse_shard(text: str) -> tuple[int, int]:
    match = re.fullmatch(r"(\d+)/(\d+)", text.strip())
    if not match or not 1 <= int(match.group(1)) <= int(match.group(2)):
        raise ValueError(f"--shard wants I/N with 1 <= I <= N, got {text!r}")
    return int(match.group(1)), int(match.group(2))


def select_shard(mappings: list[LoadedMapping], index: int, count: int) -> list[LoadedMapping]:
    """Deterministic round-robin over mappings sorted by source API: shards are disjoint and complete."""
    ordered = sorted(mappings, key=lambda loaded: loaded.mapping.source.api)
    return [loaded for position, loaded in enumerate(ordered) if position % count == index - 1]


# --------------------------------------------------------------------------- examples


def example_findings(loaded: LoadedMapping, runs: dict, device: str) -> list[Finding]:
    findings = []
    mapping = loaded.mapping
    for index, example in enumerate(mapping.examples):
        run = runs.get((mapping.source.api, index))
        if run is None:
            continue
        for side in ("source", "target"):
            findings += example_findings_of(loaded, index, side, run, device)
        if example.same_values and run.comparison.verdict == "disagree":
            findings.append(Finding("agreement", loaded.path, loaded.line_of("examples", index, "same_values"),
                                    f"example {index + 1}: the two sides disagree: {run.comparison.detail}",
                                    name=check_name(mapping.source.api, index, "agreement")))
    return findings


def example_findings_of(loaded: LoadedMapping, index: int, side: str, run, device: str) -> list[Finding]:
    """A problem when one side of one example did not do what the mapping declares for ``device``."""
    example = loaded.mapping.examples[index]
    result = getattr(run, side)
    verdict = expectation(example, side, result, device)
    if verdict in ("ok", "expected-failure", "not run"):
        return []
    declared = example.expected_failure(side, device)
    what = f"example {index + 1} ({side})"
    if verdict == "unexpected-success":
        message = f"{what} is declared to fail on {device} ({declared.error!r}) but ran: remove the declaration"
    elif declared is not None:
        message = f"{what} failed on {device} with {failure_text(result)!r}, not with the declared {declared.error!r}"
    else:
        message = f"{what} failed on {device}: {failure_text(result)}"
    name = check_name(loaded.mapping.source.api, index, side)
    line = loaded.line_in_text(("examples", index, side), result.error_line)
    return [Finding("example", loaded.path, line, message, name=name)]


# --------------------------------------------------------------------------- signatures


def listed_names(mapping: Mapping, side: str) -> list[str]:
    return [getattr(row, side) for row in mapping.differences
            if row.category in ("Parameters", "Inputs") and getattr(row, side)]


def signature_findings(loaded: LoadedMapping) -> list[Finding]:
    findings = []
    mapping = loaded.mapping
    for side_name in ("source", "target"):
        if getattr(mapping, side_name) is not None:
            findings.extend(side_findings(loaded, side_name))
    return findings


def side_findings(loaded: LoadedMapping, side_name: str) -> list[Finding]:
    """Does the API of one side exist, and do the parameters the mapping lists match its signature?"""
    side = getattr(loaded.mapping, side_name)
    name = check_name(loaded.mapping.source.api, None, side_name)
    line = loaded.line_of(side_name, "api")
    framework = framework_of(side.api)
    installed = f"{framework.key} {framework.version}"
    try:
        signature = signature_of(side.api, side.kind.value)
    except ApiNotFound as error:
        return [Finding("api", loaded.path, line, str(error), name=name)]
    if signature is None:
        return [Finding("signature", loaded.path, line,
                        f"{side.api} offers no introspectable signature in {installed}; not checked",
                        severity=UNCHECKED, name=name)]
    listed = listed_names(loaded.mapping, side_name)
    if not listed:
        return [Finding("signature", loaded.path, line, f"the mapping lists no parameters of {side.api}; not checked",
                        severity=UNCHECKED, name=name)]
    real = [param.name for param in (*signature.parameters, *signature.inputs)]
    listed_bare = [item.lstrip("*") for item in listed]
    added = [item for item in real if item not in listed_bare]
    removed = [item for item in listed_bare if item not in real]
    messages = []
    for item in removed:
        close = difflib.get_close_matches(item, added, n=1)
        if close:
            messages.append(f"`{item}` is now called `{close[0]}`")
            added.remove(close[0])
        else:
            messages.append(f"`{item}` is listed but {side.api} has no such parameter")
    messages += [f"`{item}` is a parameter of {side.api} that the mapping does not list" for item in added]
    if not messages:
        return []
    return [Finding("signature", loaded.path, line, f"signature drift against {installed}: " + "; ".join(messages), name=name)]


# --------------------------------------------------------------------------- site


_MARKDOWN = MarkdownIt("commonmark").enable("table")


def site_findings(pages: dict[str, str], mappings: list[LoadedMapping], hand_written: Iterable[str] = ()) -> list[Finding]:
    """The overview links every page and only existing ones; every relative link resolves."""
    findings = []
    known = set(pages) | set(hand_written)
    overview_links = {_resolve_link("index.md", href) for href in _links(pages.get("index.md", ""))}
    for loaded in mappings:
        page = f"{loaded.mapping.page_path}.md"
        if page not in pages:
            findings.append(Finding("site", loaded.path, 1, f"no page was generated for {loaded.mapping.source.api}"))
        elif page not in overview_links:
            findings.append(Finding("site", loaded.path, 1, f"the overview does not link {page}"))
    for page, text in sorted(pages.items()):
        for href in _links(text):
            target = _resolve_link(page, href)
            if target not in known:
                findings.append(Finding("site", Path(page), 1, f"broken link to {href}"))
    return findings


def _links(markdown: str) -> list[str]:
    hrefs = []
    for token in _MARKDOWN.parse(markdown):
        found = [child.attrGet("href") for child in token.children or [] if child.type == "link_open"]
        if token.type == "fence" and token.info.startswith("{raw} html"):  # the overview's tables
            found += [re.sub(r"\.html(?=$|#)", ".md", href) for href in re.findall(r'href="([^"]+)"', token.content)]
        for href in found:
            if href and not re.match(r"^[a-z][a-z0-9+.-]*:", href) and not href.startswith("#"):
                hrefs.append(href.split("#", 1)[0])
    return hrefs


def _resolve_link(page: str, href: str) -> str:
    return posixpath.normpath(posixpath.join(posixpath.dirname(page), href))


# --------------------------------------------------------------------------- output


def human_summary(findings: list[Finding], checked: int) -> str:
    errors = [finding for finding in findings if finding.severity == ERROR]
    unchecked = len(findings) - len(errors)
    lines = [str(finding) for finding in findings]
    verdict = "FAILED" if errors else "OK"
    lines.append(f"verify {verdict}: {checked} mappings checked, {len(errors)} problems, {unchecked} unchecked.")
    return "\n".join(lines)


def github_annotations(findings: list[Finding]) -> str:
    def escape(text: str) -> str:
        return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")

    lines = []
    for finding in findings:
        level = "error" if finding.severity == ERROR else "warning"
        lines.append(f"::{level} file={finding.path},line={finding.line},title={finding.check}::{escape(finding.message)}")
    return "\n".join(lines)


def junit_xml(findings: list[Finding], passed: list[str]) -> str:
    """JUnit XML: a test case per check that ran, failures for errors, skips for unchecked."""
    cases = [(name, None) for name in passed] + [(finding.name or str(finding.path), finding) for finding in findings]
    suite = ElementTree.Element("testsuite", name="api-mappings", tests=str(len(cases)),
                                failures=str(sum(1 for _, f in cases if f and f.severity == ERROR)),
                                skipped=str(sum(1 for _, f in cases if f and f.severity != ERROR)))
    for name, finding in cases:
        classname, _, test = name.partition("::")
        case = ElementTree.SubElement(suite, "testcase", classname=classname, name=test or classname)
        if finding is None:
            continue
        tag = "failure" if finding.severity == ERROR else "skipped"
        element = ElementTree.SubElement(case, tag, message=finding.message, type=finding.check)
        element.text = str(finding)
    ElementTree.indent(suite)
    return ElementTree.tostring(suite, encoding="unicode", xml_declaration=True) + "\n"


def check_names(loaded: LoadedMapping) -> list[str]:
    """Every check verify runs for one mapping, named as in JUnit."""
    api = loaded.mapping.source.api
    return [check_name(api, index, part) for index, part in planned_checks(loaded.mapping)]


# --------------------------------------------------------------------------- the gate


@dataclass
class Verification:
    findings: list[Finding]
    passed: list[str]
    checked: int

    @property
    def ok(self) -> bool:
        return not any(finding.severity == ERROR for finding in self.findings)


def verify(paths: list[Path], options, shard: tuple[int, int] = (1, 1), docs: Path | None = None) -> Verification:
    """Load, run and check every mapping of this shard. ``options`` is a ``pipeline.Options``."""
    from .loader import load_mappings
    from .pipeline import execute
    from .render import render_site

    loaded = load_mappings(paths)
    findings = [Finding("schema", problem.path, problem.line, f"{problem.field}: {problem.message}".lstrip(": "),
                        name=f"{problem.path}::schema") for problem in loaded.problems]
    mine = select_shard(loaded.mappings, *shard)
    runs = execute(mine, options)
    for item in mine:
        findings += signature_findings(item)
        findings += example_findings(item, runs, options.device)
    if shard[0] == 1:  # the site is one whole: the first shard checks it
        hand_written = [posixpath.join("..", page.relative_to(docs).as_posix()) for page in docs.rglob("*.md")] if docs else []
        findings += site_findings(render_site(loaded.mappings, runs, options.device), loaded.mappings, hand_written)
    failed = {finding.name for finding in findings}
    passed = [name for item in mine for name in check_names(item) if name not in failed]
    return Verification(findings, passed, len(mine))
