"""``python -m generator COMMAND``: the command-line face of the pipeline.

Every command reports problems as ``file:line:column: field: message`` lines and exits 1 on
failure, 2 on wrong usage; no traceback for a problem in a mapping.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from . import ROOT, __version__
from .coverage import DEFAULT_MODULES
from .i18n import LANGUAGES
from .loader import load_mappings, placeholder_problems
from .pipeline import DEFAULT_CACHE, DEFAULT_MAPPINGS, DEFAULT_OUTPUT, GenerationError, Options, generate, summarize
from .schema import DEVICES, json_schema_text

SCHEMA_FILE = ROOT / "schema" / "mapping.schema.json"


def _mapping_paths(args: argparse.Namespace) -> list[Path]:
    return list(getattr(args, "paths", None) or []) or [args.mappings]


def cmd_check(args: argparse.Namespace) -> int:
    from .portability import portability_problems

    result = load_mappings(_mapping_paths(args))
    problems = result.problems + [problem for loaded in result.mappings
                                  for problem in portability_problems(loaded) + placeholder_problems(loaded)]
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        count = len(problems)
        print(f"{count} problem{'s' if count != 1 else ''} found.", file=sys.stderr)
        return 1
    print(f"{len(result.mappings)} mappings OK.")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from .verify import ERROR, example_findings

    generated = generate(_mapping_paths(args), args.output, _execution_options(args))
    failures = [finding for loaded in generated.mappings
                for finding in example_findings(loaded, generated.runs, args.device)
                if finding.check == "example" and finding.severity == ERROR]  # "not run here" is no failure
    for finding in failures:
        print(finding, file=sys.stderr)
    summary = summarize(generated.runs)
    print(
        f"{len(generated.mappings)} mappings, {summary['snippets']} snippets: {summary['ok']} ran, "
        f"{summary['failed']} failed, {summary['cached']} from cache"
        + (f", {summary['not_run']} not run here" if summary["not_run"] else "") + "; "
        f"{len(generated.written)} pages written, {len(generated.unchanged)} unchanged -> {args.output}"
    )
    if generated.probes:
        from .probes import probe_summary

        print(probe_summary(generated.probes))
    if args.report:
        print(f"Report written to {args.report}")
    return 1 if failures else 0


def _execution_options(args: argparse.Namespace) -> Options:
    return Options(
        device=args.device,
        jobs=args.jobs,
        force=args.force,
        cache_path=None if args.no_cache else args.cache,
        progress=not args.quiet,
        report=args.report,
        matrix=getattr(args, "matrix", None),
        frameworks=args.frameworks,
        allow_missing=getattr(args, "allow_missing", False),
        reuse_pages=False,  # probe every mapping, so that the summary covers them all
    )


def cmd_verify(args: argparse.Namespace) -> int:
    from .verify import github_annotations, human_summary, junit_xml, verify

    result = verify(_mapping_paths(args), _execution_options(args), args.shard, docs=ROOT / "docs")
    print(human_summary(result.findings, result.checked, result.notes))
    if args.github and result.findings:
        print(github_annotations(result.findings))
    if args.junit:
        args.junit.parent.mkdir(parents=True, exist_ok=True)
        args.junit.write_text(junit_xml(result.findings, result.passed), encoding="utf-8")
    return 0 if result.ok else 1


def cmd_new(args: argparse.Namespace) -> int:
    from .pipeline import preview
    from .scaffold import ScaffoldError, create_mapping

    if args.batch is not None:
        return cmd_new_batch(args)
    if args.source is None or args.target is None:
        print("error: give SOURCE_API and TARGET_API, or --batch PAIRS", file=sys.stderr)
        return 2
    try:
        path = create_mapping(args.source, args.target, args.mappings)
    except ScaffoldError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"Wrote {_shown(path)}")
    page, runs = preview(path, args.output, _execution_options(args))
    counts = summarize(runs)
    print(f"Ran its examples: {counts['ok']} of {counts['snippets']} snippets ran.")
    print(f"Rendered {_shown(page)}; fill in the TODOs, then `python -m generator check` and `make html`.")
    return 0


def cmd_new_batch(args: argparse.Namespace) -> int:
    from .batch import BatchError, scaffold_batch

    if args.source is not None:
        print("error: give either SOURCE_API TARGET_API or --batch PAIRS, not both", file=sys.stderr)
        return 2
    try:
        result = scaffold_batch(args.batch, args.mappings, auto=args.auto)
    except BatchError as error:
        print(error, file=sys.stderr)
        return 1
    for pair, why in result.picked:
        print(f"{args.batch}:{pair.line}: picked {pair.target} for {pair.source} ({why})")
    for pair, path in result.written:
        print(f"Wrote {_shown(path)}")
    for pair, reason in result.skipped:
        print(f"{args.batch}:{pair.line}: skipped {pair.source}: {reason}", file=sys.stderr)
    print(f"{len(result.written)} written, {len(result.skipped)} skipped; "
          "fill in the TODOs, then `python -m generator check`.")
    return 0 if result.written or not result.skipped else 1


def cmd_find(args: argparse.Namespace) -> int:
    import json

    from .finder import MIN_SCORE, find
    from .introspect import ApiNotFound

    try:
        candidates = find(args.source, limit=args.limit)
    except ApiNotFound as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps({"source": args.source, "candidates": [c.as_dict() for c in candidates]}, indent=2))
        return 0
    if not candidates:
        print(f"No candidate for {args.source} scores {MIN_SCORE} or more.")
        return 0
    for rank, candidate in enumerate(candidates, start=1):
        also = f"  (also {', '.join(candidate.aliases)})" if candidate.aliases else ""
        print(f"{rank}. {candidate.api}  {candidate.score:.3f}  {candidate.kind}{also}")
        for reason in candidate.why:
            print(f"     {reason}")
    return 0


def cmd_coverage(args: argparse.Namespace) -> int:
    import json

    from .coverage import coverage

    modules = tuple(args.module or DEFAULT_MODULES)
    if args.missing and args.missing not in modules:
        modules += (args.missing,)
    loaded = load_mappings([args.mappings])
    for problem in loaded.problems:
        print(problem, file=sys.stderr)
    try:
        report = coverage(loaded.mappings, modules)
    except RuntimeError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    shown = [row for row in report if not args.missing or row.module == args.missing]
    if args.json:
        print(json.dumps([{"module": row.module, "public": len(row.public), "mapped": len(row.mapped),
                           "percent": round(row.percent, 1), "missing": list(row.missing)} for row in shown],
                         indent=2))
        return 0
    if args.missing:
        (row,) = shown
        print(f"{row.module}: {len(row.missing)} of {len(row.public)} public names have no mapping")
        for name in row.missing:
            print(f"  {row.module}.{name}")
        return 0
    width = max(len(row.module) for row in report)
    for row in report:
        print(f"{row.module:<{width}}  {len(row.mapped):>4} / {len(row.public):<4} {row.percent:5.1f}%")
    total_public = sum(len(row.public) for row in report)
    total_mapped = sum(len(row.mapped) for row in report)
    print(f"{'total':<{width}}  {total_mapped:>4} / {total_public:<4} "
          f"{100.0 * total_mapped / total_public if total_public else 100.0:5.1f}%")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from .importer import import_pages

    result = import_pages(args.pages, args.out)
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    for path in result.written:
        print(f"Wrote {_shown(path)}")
    print(f"{len(result.written)} mappings written, {len(result.warnings)} warnings.")
    return 0 if result.written or not args.pages else 1


def cmd_merge_reports(args: argparse.Namespace) -> int:
    from .reports import ReportError, write_merged

    try:
        matrix = write_merged(args.reports, args.out)
    except ReportError as error:
        print(error, file=sys.stderr)
        return 1
    examples = sum(len(examples) for examples in matrix["mappings"].values())
    print(f"Merged {len(args.reports)} reports: {len(matrix['devices'])} devices "
          f"({', '.join(matrix['devices'])}), {examples} examples -> {args.out}")
    return 0


def cmd_html(args: argparse.Namespace) -> int:
    from .languages import SiteError, build

    timings: dict[str, float] = {}
    try:
        status = build(args.out, languages=args.language or LANGUAGES, sphinx_options=args.sphinx_options,
                       overrides=args.overrides, timings=timings)
    except SiteError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    if status:
        print(f"the build failed; the site in {args.out} is as the last successful build left it", file=sys.stderr)
        return status
    print("built " + ", ".join(f"{args.out / language} ({seconds:.1f} s)" for language, seconds in timings.items())
          + f"; languages linked from {args.out / 'index.html'}")
    return status


def cmd_schema(args: argparse.Namespace) -> int:
    text = json_schema_text()
    if args.check:
        current = args.file.read_text(encoding="utf-8") if args.file.is_file() else ""
        if current != text:
            print(f"{args.file} is out of date; run `python -m generator schema`.", file=sys.stderr)
            return 1
        print(f"{args.file} is up to date.")
        return 0
    args.file.parent.mkdir(parents=True, exist_ok=True)
    args.file.write_text(text, encoding="utf-8")
    print(f"Wrote {args.file}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m generator", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def mappings_option(sub: argparse.ArgumentParser, positional: bool = False) -> None:
        if positional:
            sub.add_argument("paths", nargs="*", type=Path, metavar="PATH", help="mapping files or folders")
        sub.add_argument("--mappings", type=Path, default=DEFAULT_MAPPINGS, metavar="DIR",
                         help=f"folder of mapping YAML (default: {_shown(DEFAULT_MAPPINGS)})")

    def execution_options(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--jobs", "-j", type=_positive_int, default=os.cpu_count(), metavar="N",
                         help="worker processes (default: number of cores)")
        sub.add_argument("--device", choices=DEVICES, default="cpu", help="device the examples run on (default: cpu)")
        sub.add_argument("--force", action="store_true", help="ignore cached outputs and run every example again")
        sub.add_argument("--cache", type=Path, default=DEFAULT_CACHE, metavar="FILE",
                         help=f"sqlite output cache (default: {_shown(DEFAULT_CACHE)})")
        sub.add_argument("--no-cache", action="store_true", help="neither read nor write the cache")
        sub.add_argument("--report", type=Path, metavar="FILE", help="write a JSON report of every example run")
        sub.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
        sub.add_argument("--frameworks", type=_frameworks, default=None, metavar="LIST",
                         help="run only these frameworks' sides, e.g. torch (default: all); the others are 'not run here'")

    check = commands.add_parser("check", help="validate mapping files")
    mappings_option(check, positional=True)
    check.set_defaults(handler=cmd_check)

    run = commands.add_parser("run", help="run every example and write the pages")
    mappings_option(run)
    execution_options(run)
    run.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, metavar="DIR",
                     help=f"folder for the generated pages (default: {_shown(DEFAULT_OUTPUT)})")
    run.add_argument("--matrix", type=Path, metavar="FILE", help="merged device reports to show on the pages")
    run.add_argument("--allow-missing", action="store_true",
                     help="publish pages even when a framework does not run here (its sides say 'not run here')")
    run.set_defaults(handler=cmd_run)

    new = commands.add_parser("new", help="scaffold a mapping from the installed frameworks' signatures")
    new.add_argument("source", nargs="?", metavar="SOURCE_API", help="e.g. torch.nn.HuberLoss")
    new.add_argument("target", nargs="?", metavar="TARGET_API", help="e.g. mindspore.nn.HuberLoss")
    new.add_argument("--batch", type=Path, metavar="PAIRS",
                     help="scaffold every 'SOURCE_API [TARGET_API]' line of this file (no preview run)")
    new.add_argument("--auto", action="store_true",
                     help="with --batch: a line without TARGET_API takes the finder's top candidate")
    mappings_option(new)
    execution_options(new)
    new.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, metavar="DIR", help="folder for the rendered page")
    new.set_defaults(handler=cmd_new)

    finder = commands.add_parser("find", help="rank MindSpore candidates for a PyTorch API by name and signature")
    finder.add_argument("source", metavar="SOURCE_API", help="e.g. torch.nn.GELU")
    finder.add_argument("--limit", type=_positive_int, default=5, metavar="N", help="at most N candidates (default: 5)")
    finder.add_argument("--json", action="store_true", help="print JSON instead of text")
    finder.set_defaults(handler=cmd_find)

    progress = commands.add_parser("coverage", help="mapped and missing public names per source module")
    mappings_option(progress)
    progress.add_argument("--module", action="append", metavar="MODULE",
                          help=f"a source module to count (repeatable; default: {', '.join(DEFAULT_MODULES)})")
    progress.add_argument("--missing", metavar="MODULE", help="list the public names of MODULE that have no mapping")
    progress.add_argument("--json", action="store_true", help="print JSON instead of text")
    progress.set_defaults(handler=cmd_coverage)

    importer = commands.add_parser("import", help="convert hand-written difference pages (Markdown) into mapping YAML")
    importer.add_argument("pages", nargs="+", type=Path, metavar="PAGE.md", help="pages or folders of pages")
    importer.add_argument("--out", type=Path, default=DEFAULT_MAPPINGS, metavar="DIR",
                          help=f"where the YAML goes (default: {_shown(DEFAULT_MAPPINGS)})")
    importer.set_defaults(handler=cmd_import)

    merge = commands.add_parser("merge-reports", help="merge run reports of several devices into a support matrix")
    merge.add_argument("reports", nargs="+", type=Path, metavar="REPORT", help="JSON reports from run/verify --report")
    merge.add_argument("--out", type=Path, required=True, metavar="FILE", help="merged matrix (JSON)")
    merge.set_defaults(handler=cmd_merge_reports)

    verify = commands.add_parser("verify", help="CI gate: examples, agreement, signature drift, APIs, links")
    mappings_option(verify, positional=True)
    execution_options(verify)
    verify.add_argument("--shard", type=_shard, default=(1, 1), metavar="I/N",
                        help="check only shard I of N (deterministic split of the mappings)")
    verify.add_argument("--junit", type=Path, metavar="FILE", help="write JUnit XML for CI dashboards")
    verify.add_argument("--github", action="store_true", help="print GitHub workflow annotations")
    verify.set_defaults(handler=cmd_verify)

    site = commands.add_parser("html", help="build the site in every language (_build/html/<language>/, what `make html` runs)")
    site.add_argument("--out", type=Path, default=Path("_build/html"), metavar="DIR", help="(default: _build/html)")
    site.add_argument("--language", action="append", choices=LANGUAGES, metavar="LANGUAGE",
                      help=f"build only this language (repeatable; default: {', '.join(LANGUAGES)})")
    site.add_argument("-D", dest="overrides", action="append", default=[], metavar="NAME=VALUE",
                      help="a Sphinx setting, as sphinx-build -D")
    site.add_argument("sphinx_options", nargs="*", metavar="SPHINX_OPTION",
                      help="further sphinx-build options after --, e.g. -- -W --keep-going")
    site.set_defaults(handler=cmd_html)

    schema = commands.add_parser("schema", help="write the JSON Schema that editors use for mapping files")
    schema.add_argument("--file", type=Path, default=SCHEMA_FILE, help=f"(default: {_shown(SCHEMA_FILE)})")
    schema.add_argument("--check", action="store_true", help="fail if the file is out of date")
    schema.set_defaults(handler=cmd_schema)
    return parser


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _shard(text: str) -> tuple[int, int]:
    from .verify import parse_shard

    try:
        return parse_shard(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _frameworks(text: str) -> tuple[str, ...]:
    from .devices import FrameworkSelectionError, parse_frameworks

    try:
        return parse_frameworks(text)
    except FrameworkSelectionError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except GenerationError as error:
        print(error, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        return 130
