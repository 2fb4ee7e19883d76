"""``python -m generator verify``: one gate for CI.

Checks, each a ``Finding`` pointing at a YAML line:
  example      an example failed where the mapping declares no such failure for this device
               (or a declared failure did not happen, so the declaration is stale)
  agreement    two sides meant to print the same values printed different ones
  signature    the parameters a mapping lists differ from the installed API's real signature
  api          a source or target API does not exist in the installed framework
  site         the overview and the pages disagree, or an internal link is broken
  probes       a status that says the two APIs behave the same (consistent, names-differ) is not
               earned by the probes (a variant kind that applies left out, a differing variant,
               declared or not, a nondeterministic or lost one), or a difference row names probe
               variants (``probes``) that no longer differ
  status       such a status on a mapping without probes, or on a class whose counterpart lacks
               a public method or attribute that a user calls (``introspect.missing_surface``)
Findings of severity "unchecked" (a signature that no source can read) and "not run here" (a side
whose framework is not installed on this machine or not selected with ``--frameworks``) are
reported, and skipped in JUnit, but do not fail the run.

Signatures are read by ``introspect.signature_of`` (inspect, then the documented docstring line,
then the framework's operator definitions); the mapping's signature text (each overload line)
is compared with them by name, kind (positional or keyword-only) and default, and so are the
difference rows (a row may state a default: ``source: lr=0.001``).
"""

from __future__ import annotations

import ast
import difflib
import posixpath
import re
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from markdown_it import MarkdownIt

from .results import expectation, failure_text
from .devices import runs_here, why_not_here
from .frameworks import FRAMEWORKS, framework_of, package_missing
from .introspect import (SOURCES, ApiNotFound, framework_coverage, ApiSignature, Param, missing_surface,
                         parse_signatures, signature_of)
from .loader import LoadedMapping
from .schema import Mapping

ERROR = "error"
UNCHECKED = "unchecked"
NOT_RUN = "not run here"  # a side whose framework is not installed here, or not selected: skipped


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
    checks: list[tuple[int | None, str]] = [(None, side) for side in api_sides(mapping)]
    for index, example in enumerate(mapping.examples):
        checks += [(index, side) for side in ("source", "target") if example.code(side) is not None]
        if example.same_values:
            checks.append((index, "agreement"))
    return checks


def api_sides(mapping: Mapping) -> list[str]:
    """Every API side on the page, main pair first: ``source``, ``target``, ``alternatives.0.target``,
    ``other_pairs.0.source``... The drift check covers each pair of the page."""
    sides = [side for side in ("source", "target") if getattr(mapping, side)]
    sides += [f"alternatives.{index}.target" for index in range(len(mapping.alternatives))]
    for index, pair in enumerate(mapping.other_pairs):
        sides += [f"other_pairs.{index}.{side}" for side in ("source", "target") if getattr(pair, side)]
    return sides


def _side_path(side_name: str) -> tuple[str | int, ...]:
    return tuple(int(part) if part.isdigit() else part for part in side_name.split("."))


def _side_at(mapping: Mapping, side_name: str):
    value = mapping
    for part in _side_path(side_name):
        value = value[part] if isinstance(part, int) else getattr(value, part)
    return value


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
        not_run = getattr(run, "not_run", {})
        for side in ("source", "target"):
            if side in not_run:
                findings.append(Finding("example", loaded.path, loaded.line_of("examples", index, side),
                                        f"example {index + 1} ({side}) not run here: {not_run[side]}",
                                        severity=NOT_RUN, name=check_name(mapping.source.api, index, side)))
            else:
                findings += example_findings_of(loaded, index, side, run, device)
        if example.same_values and not_run:
            findings.append(Finding("agreement", loaded.path, loaded.line_of("examples", index, "same_values"),
                                    f"example {index + 1}: not compared: {run.comparison.detail}",
                                    severity=NOT_RUN, name=check_name(mapping.source.api, index, "agreement")))
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
    return [row_parameter(getattr(row, side))[0] for row in mapping.differences
            if row.category in ("Parameters", "Inputs") and getattr(row, side)]


def row_parameter(text: str) -> tuple[str, str | None]:
    """A difference row names a parameter, optionally with the default it states: ``lr=0.001``."""
    name, equals, default = text.partition("=")
    return name.strip(), default.strip() if equals else None


def signature_findings(loaded: LoadedMapping, frameworks: Iterable[str] | None = None) -> list[Finding]:
    findings = []
    mapping = loaded.mapping
    for side_name in api_sides(mapping):
        findings.extend(side_findings(loaded, side_name, frameworks))
    return findings


def side_findings(loaded: LoadedMapping, side_name: str, frameworks: Iterable[str] | None = None) -> list[Finding]:
    """Does the API of one side exist, and do the signature text and the difference rows of the
    mapping match its real signature: names, kinds (positional or keyword-only) and defaults?"""
    side = _side_at(loaded.mapping, side_name)
    name = check_name(loaded.mapping.source.api, None, side_name)
    line = loaded.line_of(*_side_path(side_name), "api")
    framework = framework_of(side.api)
    installed = f"{framework.key} {framework.version}"
    absent = why_not_here(framework.key, frameworks)
    if absent is not None:
        return [Finding("signature", loaded.path, line, f"{side.api} not checked here: {absent}", severity=NOT_RUN,
                        name=name)]
    missing = package_missing(side.api)
    if missing is not None:
        return [Finding("api", loaded.path, line, f"{side.api} not checked: {missing}", severity=UNCHECKED, name=name)]
    try:
        signature = signature_of(side.api, side.kind.value)
    except ApiNotFound as error:
        return [Finding("api", loaded.path, line, str(error), name=name)]
    if signature is None:
        return [Finding("signature", loaded.path, line,
                        f"{side.api} offers no readable signature in {installed} (tried: {', '.join(SOURCES)}); not checked",
                        severity=UNCHECKED, name=name)]
    where = f"against {installed} (signature read from {signature.source})"
    findings = [Finding("signature", loaded.path, text_line, f"signature text drift {where}: {message}", name=name)
                for text_line, message in text_problems(loaded, side_name, signature)]
    if side_name not in ("source", "target"):  # the difference rows describe the main pair only
        return findings
    messages = row_problems(loaded.mapping, side_name, signature)
    if messages:
        findings.append(Finding("signature", loaded.path, loaded.line_of(side_name, "api"),
                                f"signature drift {where}: " + "; ".join(messages), name=name))
    findings += row_default_findings(loaded, side_name, signature, where, name)
    return findings


def row_problems(mapping: Mapping, side_name: str, signature: ApiSignature) -> list[str]:
    """Names the difference rows list that the API lacks, and parameters it has that no row lists."""
    listed = listed_names(mapping, side_name)
    if not listed:
        return []
    api = getattr(mapping, side_name).api
    main = [param.name for param in (*signature.parameters, *signature.inputs)]
    known = {param.name for form in signature.forms for param in form} | set(main)
    listed_bare = [item.lstrip("*") for item in listed]
    added = [item for item in main if item not in listed_bare]  # overloads' own names may go unlisted
    removed = [item for item in listed_bare if item not in known]
    messages = []
    for item in removed:
        close = difflib.get_close_matches(item, added, n=1)
        if close:
            messages.append(f"`{item}` is now called `{close[0]}`")
            added.remove(close[0])
        else:
            messages.append(f"`{item}` is listed but {api} has no such parameter")
    messages += [f"`{item}` is a parameter of {api} that the mapping does not list" for item in added]
    return messages


def row_default_findings(loaded: LoadedMapping, side_name: str, signature: ApiSignature, where: str,
                         name: str) -> list[Finding]:
    """A default that a difference row states (``lr=0.001``) must be the installed one."""
    real: dict[str, Param] = {}
    for param in (param for form in signature.forms for param in (*form, *signature.inputs)):
        real.setdefault(param.name, param)
    findings = []
    for index, row in enumerate(loaded.mapping.differences):
        text = getattr(row, side_name)
        if not text:
            continue
        parameter, stated = row_parameter(text)
        message = default_problem(parameter, stated, real.get(parameter), signature.defaults_complete, stated_only=True)
        if message:
            findings.append(Finding("signature", loaded.path, loaded.line_of("differences", index, side_name),
                                    f"difference row drift {where}: {message}", name=name))
    return findings


def text_problems(loaded: LoadedMapping, side_name: str, signature: ApiSignature) -> list[tuple[int, str]]:
    """(YAML line, message) for each way the mapping's signature text differs from the real one."""
    text = _side_at(loaded.mapping, side_name).signature
    field_path = (*_side_path(side_name), "signature")
    written_forms = parse_signatures(text)
    if not written_forms:
        return [(loaded.line_of(*field_path), "the text is not of the form `[class ]api(parameters)`")]
    problems = []
    for parsed in written_forms:
        candidates = [compare_parameters(parsed.parameters, form, signature.defaults_complete, "parameter")
                      for form in signature.forms]
        found = min(candidates, key=len)  # the overload this line describes: the one it matches best
        if parsed.inputs is not None and signature.has_call:
            found = found + compare_parameters(parsed.inputs, signature.inputs, signature.defaults_complete, "input")
        for message, parameter in found:
            problems.append((loaded.line_in_text(field_path, _text_line(text, parameter)), message))
    return problems


def compare_parameters(written: list[Param], real: list[Param], defaults_complete: bool,
                       what: str) -> list[tuple[str, str]]:
    """(message, parameter name) for each name, kind or default in ``written`` that ``real`` does not have."""
    real_by_name = {param.name: param for param in real}
    written_names = {param.name for param in written}
    problems = []
    for param in written:
        actual = real_by_name.get(param.name)
        if actual is None:
            close = difflib.get_close_matches(param.name, [p.name for p in real if p.name not in written_names], n=1)
            hint = f"; it is now called `{close[0]}`" if close else ""
            problems.append((f"{what} `{param.name}` does not exist{hint}", param.name))
            continue
        if _kind_group(param.kind) != _kind_group(actual.kind):
            problems.append((f"{what} `{param.name}` is {_kind_label(param.kind)} in the text but "
                             f"{_kind_label(actual.kind)} in the installed API", param.name))
        message = default_problem(param.name, param.default_repr, actual, defaults_complete)
        if message:
            problems.append((message, param.name))
    for param in real:
        if param.name not in written_names:
            problems.append((f"{what} `{param.display}` of the installed API is missing from the text", param.name))
    return problems


def default_problem(name: str, stated: str | None, actual: Param | None, defaults_complete: bool,
                    stated_only: bool = False) -> str | None:
    """Why a stated default (None: none stated) disagrees with the installed parameter, or None."""
    if actual is None or actual.is_variadic:
        return None
    if stated is None:
        if stated_only or actual.default_repr is None:
            return None
        return f"`{name}` has the default {actual.default_repr} but the text states none"
    if actual.default_repr is None:
        if not defaults_complete:
            return None  # the source may leave defaults out (a docstring): nothing to hold it against
        return f"`{name}={stated}` states a default that the installed API does not have"
    if not same_default(stated, actual.default_repr):
        return f"`{name}` defaults to {actual.default_repr}, not {stated}"
    return None


def same_default(left: str, right: str) -> bool:
    """Two default texts mean the same value: ``'mean'`` and ``"mean"``, ``0`` and ``0.0``,
    ``mstype.float32`` and ``mindspore.float32`` (the same last name of a dotted constant)."""
    values = []
    for text in (left, right):
        try:
            values.append(ast.literal_eval(text.strip()))
        except (ValueError, SyntaxError):
            values.append(None)
            continue
    if values[0] is not None or values[1] is not None:
        if type(values[0]) is bool or type(values[1]) is bool:
            return type(values[0]) is type(values[1]) and values[0] == values[1]
        return values[0] == values[1]
    if left.strip() in ("None",) or right.strip() in ("None",):
        return left.strip() == right.strip()
    return left.strip().rsplit(".", 1)[-1] == right.strip().rsplit(".", 1)[-1]


def _kind_group(kind: str) -> str:
    return {"POSITIONAL_ONLY": "positional", "POSITIONAL_OR_KEYWORD": "positional"}.get(kind, kind)


def _kind_label(kind: str) -> str:
    return {"positional": "positional", "KEYWORD_ONLY": "keyword-only", "VAR_POSITIONAL": "*variadic",
            "VAR_KEYWORD": "**variadic"}[_kind_group(kind)]


def _text_line(text: str, name: str) -> int:
    """1-based line of the signature text where ``name`` is written (the first line if nowhere)."""
    pattern = re.compile(rf"(?<![\w.'\"]){re.escape(name)}(?![\w'\"])")
    for number, line in enumerate(text.splitlines(), start=1):
        if number > 1 or "(" in line:
            if pattern.search(line.split("(", 1)[1] if number == 1 else line):
                return number
    return 1


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


def human_summary(findings: list[Finding], checked: int, notes: Iterable[str] = ()) -> str:
    """One line per finding (checks not run here: one line per reason), the ``notes`` (signature
    sources and coverage), then the verdict."""
    errors = [finding for finding in findings if finding.severity == ERROR]
    unchecked = sum(finding.severity == UNCHECKED for finding in findings)
    not_run: dict[str, int] = {}
    for finding in findings:
        if finding.severity == NOT_RUN:
            reason = finding.message.rsplit("here: ", 1)[-1]
            not_run[reason] = not_run.get(reason, 0) + 1
    lines = [str(finding) for finding in findings if finding.severity != NOT_RUN]
    lines += [f"{count} checks not run here: {reason}" for reason, count in not_run.items()]
    lines += list(notes)
    verdict = "FAILED" if errors else "OK"
    tail = f", {sum(not_run.values())} not run here" if not_run else ""
    lines.append(f"verify {verdict}: {checked} mappings checked, {len(errors)} problems, {unchecked} unchecked{tail}.")
    return "\n".join(lines)


def signature_notes(mappings: list[LoadedMapping], frameworks: Iterable[str]) -> list[str]:
    """Where the checked signatures came from, and the share of each framework's public callables
    whose signature can be checked at all (``introspect.framework_coverage``)."""
    sources: dict[str, int] = {}
    for loaded in mappings:
        for side in (_side_at(loaded.mapping, name) for name in api_sides(loaded.mapping)):
            if framework_of(side.api).key not in frameworks or package_missing(side.api):
                continue
            try:
                signature = signature_of(side.api, side.kind.value)
            except ApiNotFound:
                continue
            source = signature.source if signature is not None else "none"
            sources[source] = sources.get(source, 0) + 1
    notes = ["signatures checked (names, kinds, defaults) by source: "
             + (", ".join(f"{source} {count}" for source, count in sorted(sources.items())) or "none")]
    for framework in frameworks:
        rows = framework_coverage(framework)
        readable, total = sum(row.readable for row in rows), sum(row.total for row in rows)
        parts = ", ".join(f"{row.namespace} {row.percent:.1f}%" for row in rows)
        notes.append(f"signature coverage {framework}: {readable}/{total} public callables "
                     f"({100.0 * readable / max(total, 1):.1f}%): {parts}")
    return notes


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
    names = [check_name(api, index, part) for index, part in planned_checks(loaded.mapping)]
    from .probes import CHECKED_STATUSES

    names += [f"{api}::status"] if loaded.mapping.status in CHECKED_STATUSES and loaded.mapping.target else []
    return names + ([f"{api}::probes"] if loaded.mapping.probes is not None and loaded.mapping.target else [])


def probe_findings(loaded: LoadedMapping, probed: dict) -> list[Finding]:
    """Claims against the differential probes (``probes``): undeclared differences, stale declarations."""
    from .probes import CHECKED_STATUSES, broken_sides, sameness_problems, stale_declarations

    mapping = loaded.mapping
    result = probed.get(mapping.source.api)
    if result is None:
        return []
    name = f"{mapping.source.api}::probes"
    findings = []
    problems = sameness_problems(mapping, result)
    if problems:
        findings.append(Finding("probes", loaded.path, loaded.line_of("status"),
                                f"status {mapping.status.value} says the APIs behave the same, but the probes against "
                                f"{mapping.target.api} do not show it: " + "; ".join(problems) + ". Change the status "
                                "to the one docs/status-categories.md gives (difference rows naming the variants "
                                "with `probes`), or fix the probes.", name=name))
    if mapping.status in CHECKED_STATUSES and result.main.not_comparable:
        findings.append(Finding("probes", loaded.path, loaded.line_of("status"),
                                f"status {mapping.status.value} is not proven on this device: "
                                f"{len(result.main.not_comparable)} of {len(result.variants)} variants could not be "
                                "compared here (`probes.expected_failures`); a device that runs them checks it",
                                severity=UNCHECKED, name=name))
    for side, why in broken_sides(result):
        api = mapping.side_api(side)
        findings.append(Finding("probes", loaded.path, loaded.line_of("probes", side),
                                f"the probes of {api} are broken: the `{side}` call template {why}. Fix the "
                                "template, or declare the failure under `probes.expected_failures`.", name=name))
    for index, pattern, why in stale_declarations(mapping, result):
        findings.append(Finding("probes", loaded.path, loaded.line_of("differences", index, "probes"),
                                f"difference row {index + 1} names probe variant `{pattern}`, but {why}", name=name))
    return findings


def status_findings(loaded: LoadedMapping, frameworks: Iterable[str] | None = None) -> list[Finding]:
    """A status that says the two APIs behave the same (consistent, names-differ) is earned, not
    typed: the mapping needs probes (what they show is ``probe_findings``), and a class pair needs the
    same public surface (``introspect.missing_surface``: the methods a user calls)."""
    from .probes import CHECKED_STATUSES

    mapping = loaded.mapping
    if mapping.status not in CHECKED_STATUSES or mapping.target is None:
        return []
    line, name = loaded.line_of("status"), f"{mapping.source.api}::status"
    claim = f"status {mapping.status.value} says the APIs behave the same, but"
    findings = []
    if mapping.probes is None:
        findings.append(Finding("status", loaded.path, line, f"{claim} the mapping has no `probes` to show it. "
                                "Add probes, or change the status.", name=name))
    if mapping.source.kind.value == "class" and mapping.target.kind.value == "class":
        sides = (mapping.source.api, mapping.target.api)
        absent = next((why for why in (why_not_here(framework_of(api).key, frameworks) for api in sides) if why), None)
        if absent is not None:
            return findings + [Finding("status", loaded.path, line, f"class surface not compared here: {absent}",
                                       severity=NOT_RUN, name=name)]
        try:
            missing = missing_surface(*sides)
        except ApiNotFound:
            return findings  # the api check reports it
        if missing:
            findings.append(Finding("status", loaded.path, line, f"{claim} {mapping.target.api} lacks "
                                    f"{len(missing)} public method(s) or attribute(s) of {mapping.source.api} that a "
                                    "user calls: " + ", ".join(missing) + ". Change the status (a `Methods` "
                                    "difference row per missing name).", name=name))
    return findings


# --------------------------------------------------------------------------- the gate


@dataclass
class Verification:
    findings: list[Finding]
    passed: list[str]
    checked: int
    notes: list[str] = field(default_factory=list)  # signature sources and coverage, for the summary

    @property
    def ok(self) -> bool:
        return not any(finding.severity == ERROR for finding in self.findings)


def verify(paths: list[Path], options, shard: tuple[int, int] = (1, 1), docs: Path | None = None) -> Verification:
    """Load, run and check every mapping of this shard. ``options`` is a ``pipeline.Options``."""
    from .loader import load_mappings
    from .pipeline import execute_all
    from .render import render_site

    loaded = load_mappings(paths)
    findings = [Finding("schema", problem.path, problem.line, f"{problem.field}: {problem.message}".lstrip(": "),
                        name=f"{problem.path}::schema") for problem in loaded.problems]
    mine = select_shard(loaded.mappings, *shard)
    runs, probed = execute_all(mine, options)
    selected = getattr(options, "frameworks", None)
    for item in mine:
        findings += signature_findings(item, selected)
        findings += example_findings(item, runs, options.device)
        findings += probe_findings(item, probed)
        findings += status_findings(item, selected)
    if shard[0] == 1:  # the site is one whole: the first shard checks it
        hand_written = [posixpath.join("..", page.relative_to(docs).as_posix()) for page in docs.rglob("*.md")] if docs else []
        findings += site_findings(render_site(loaded.mappings, runs, options.device, probes=probed), loaded.mappings, hand_written)
    failed = {finding.name for finding in findings}
    passed = [name for item in mine for name in check_names(item) if name not in failed]
    here = [key for key in FRAMEWORKS if runs_here(key, selected)]
    return Verification(findings, passed, len(mine), signature_notes(mine, here) + translation_notes(mine))


def translation_notes(mappings: list[LoadedMapping]) -> list[str]:
    """A warning line per language other than English with the count of mapping fields that have no
    text in it (its site shows them in English, marked untranslated): never a failure."""
    from .i18n import DEFAULT_LANGUAGE, LANGUAGES, untranslated

    notes = []
    for language in LANGUAGES:
        if language == DEFAULT_LANGUAGE:
            continue
        counts = {loaded.mapping.key: len(untranslated(loaded.mapping, language)) for loaded in mappings}
        missing = sum(counts.values())
        if missing:
            pages = sum(1 for count in counts.values() if count)
            notes.append(f"warning: {missing} translatable fields in {pages} of {len(mappings)} mappings have no "
                         f"{language} text; the {language} site shows them in English, marked untranslated "
                         "(see its translation status page)")
    return notes
