"""The output folder and faults while writing the site (issue 26, items 4 and 8).

Item 4: ``run --output DIR`` shares DIR with its owner. Whatever happens (a mistyped ``--matrix``,
a mapping that fails validation, a killed build, a mapping removed), the files the generator did
not write survive, and a failed run leaves DIR as it was. Item 8: a full disk or a read-only folder
while ``python -m generator html`` writes the site is one clear error line, no traceback and no Sphinx
crash report; the published site stays as it was, and the next build recovers by itself. Builds
here are one language, two small mappings, examples not run; the faults are simulated without
mounts: RLIMIT_FSIZE in a child (writes past it fail with EFBIG, as on a full disk) and folders made
read-only for a child that lost root's power to write into them.
"""

from __future__ import annotations

import os
import resource
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from generator.manifest import MANIFEST_NAME
from generator.pipeline import GenerationError, Options, generate, preview
from generator.publish import work_folder

from .conftest import L1LOSS_PAIR, ROOT, VALID_MAPPING, write_mapping
from .hostile import without_root_override

NO_RUN = Options(execute=False, cache_path=None, coverage_modules=())
USER_FILES = {"notes.md": "# My notes\n", "sub/keep.md": "# Keep me\n", "data.csv": "a,b\n1,2\n"}


def run_generator(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "generator", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)


def two_mappings(folder: Path) -> Path:
    write_mapping(folder, "torch.nn/L1Loss.yaml")
    write_mapping(folder, "torch.nn/MSELoss.yaml", VALID_MAPPING.replace("L1Loss", "MSELoss"))
    return folder


def with_user_files(output: Path) -> Path:
    for relative, text in USER_FILES.items():
        (output / relative).parent.mkdir(parents=True, exist_ok=True)
        (output / relative).write_text(text, encoding="utf-8")
    (output / "empty").mkdir(exist_ok=True)
    return output


def user_files_intact(output: Path) -> bool:
    return (all((output / relative).read_text(encoding="utf-8") == text for relative, text in USER_FILES.items())
            and (output / "empty").is_dir())


def snapshot(folder: Path) -> dict[str, bytes]:
    return {path.relative_to(folder).as_posix(): path.read_bytes() for path in folder.rglob("*") if path.is_file()}


def run_into(mappings: Path, output: Path, *extra: str) -> subprocess.CompletedProcess:
    return run_generator("run", "--no-cache", "-q", "--allow-missing", "--frameworks", "torch", "-j", "1",
                         "--mappings", str(mappings), "--output", str(output), *extra)


# --- item 4: the output folder holds the user's files too ------------------------------------

@pytest.mark.parametrize("before", ["empty", "generated"])
def test_a_mistyped_matrix_changes_nothing_in_the_output_folder(tmp_path: Path, before: str):
    mappings, output = two_mappings(tmp_path / "mappings"), with_user_files(tmp_path / "out")
    if before == "generated":
        generate([mappings], output, NO_RUN)
    expected = snapshot(output)
    completed = run_into(mappings, output, "--matrix", str(tmp_path / "matrx.json"))
    assert completed.returncode == 1
    assert "matrx.json: cannot read the device matrix" in completed.stderr and "Traceback" not in completed.stderr
    assert snapshot(output) == expected and user_files_intact(output)


def test_a_mapping_that_fails_validation_changes_nothing_in_the_output_folder(tmp_path: Path):
    mappings, output = two_mappings(tmp_path / "mappings"), with_user_files(tmp_path / "out")
    generate([mappings], output, NO_RUN)
    expected = snapshot(output)
    write_mapping(mappings, "torch.nn/Broken.yaml", "source: {api: torch.nn.Broken}\n")
    with pytest.raises(GenerationError, match=r"Broken.yaml:1:1: source.kind: required field is missing"):
        generate([mappings], output, NO_RUN)
    assert snapshot(output) == expected and user_files_intact(output)


def test_a_removed_mapping_removes_its_page_and_nothing_of_the_users(tmp_path: Path):
    mappings, output = two_mappings(tmp_path / "mappings"), with_user_files(tmp_path / "out")
    (output / ".draft.md.tmp").write_text("a user's file with a temporary-looking name")
    generate([mappings], output, NO_RUN)
    assert (output / "torch.nn" / "MSELoss.md").is_file() and user_files_intact(output)
    (mappings / "torch.nn" / "MSELoss.yaml").unlink()
    result = generate([mappings], output, NO_RUN)
    assert result.removed == [output / "torch.nn" / "MSELoss.md"]
    assert not (output / "torch.nn" / "MSELoss.md").exists() and (output / "torch.nn" / "L1Loss.md").is_file()
    assert user_files_intact(output) and (output / ".draft.md.tmp").is_file()


def test_a_generated_page_edited_by_hand_is_not_removed_with_its_mapping(tmp_path: Path):
    mappings, output = two_mappings(tmp_path / "mappings"), tmp_path / "out"
    generate([mappings], output, NO_RUN)
    page = output / "torch.nn" / "MSELoss.md"
    page.write_text(page.read_text() + "\nMy addition.\n")
    (mappings / "torch.nn" / "MSELoss.yaml").unlink()
    assert generate([mappings], output, NO_RUN).removed == []
    assert page.read_text().endswith("My addition.\n")
    assert "torch.nn/MSELoss.md" not in (output / MANIFEST_NAME).read_text()  # the user's now


def test_a_users_file_in_the_way_of_a_page_is_an_error_not_overwritten(tmp_path: Path):
    mappings, output = two_mappings(tmp_path / "mappings"), tmp_path / "out"
    (output / "torch.nn").mkdir(parents=True)
    (output / "torch.nn" / "L1Loss.md").write_text("# mine\n")
    with pytest.raises(GenerationError, match=r"L1Loss.md is in the way: the generator did not write it"):
        generate([mappings], output, NO_RUN)
    assert snapshot(output) == {"torch.nn/L1Loss.md": b"# mine\n"}
    with pytest.raises(GenerationError, match=r"L1Loss.md is in the way"):
        preview(mappings / "torch.nn" / "L1Loss.yaml", output, NO_RUN)
    assert snapshot(output) == {"torch.nn/L1Loss.md": b"# mine\n"}


def test_a_folder_written_before_the_manifest_existed_is_updated_and_its_other_files_stay(tmp_path: Path):
    mappings, output = two_mappings(tmp_path / "mappings"), tmp_path / "out"
    generate([mappings], output, NO_RUN)
    (output / MANIFEST_NAME).unlink()
    (output / ".render-memo.pickle").write_bytes(b"")  # the render memo tells an older generator's folder
    with_user_files(output)
    page = output / "torch.nn" / "L1Loss.md"
    before = page.read_text()
    write_mapping(mappings, "torch.nn/L1Loss.yaml", VALID_MAPPING.replace("The same loss.", "Zyzzyva."))
    (mappings / "torch.nn" / "MSELoss.yaml").unlink()
    result = generate([mappings], output, NO_RUN)
    assert page in result.written and page.read_text() != before and user_files_intact(output)
    assert (output / "torch.nn" / "MSELoss.md").is_file()  # not listed anywhere: left, never guessed at


WRITE_AND_PAUSE = textwrap.dedent("""
    import os, sys, time
    from pathlib import Path
    from generator.pipeline import Options, generate
    real_replace = os.replace
    def replace(source, target):
        if str(target).endswith(sys.argv[3]):
            print("PAUSED", flush=True)
            time.sleep(60)
        real_replace(source, target)
    os.replace = replace
    generate([Path(sys.argv[1])], Path(sys.argv[2]), Options(execute=False, cache_path=None, coverage_modules=()))
""")


def test_a_build_killed_while_writing_leaves_the_users_files_and_the_next_one_completes(tmp_path: Path):
    mappings, output = two_mappings(tmp_path / "mappings"), with_user_files(tmp_path / "out")
    generate([mappings], output, NO_RUN)
    (mappings / "torch.nn" / "MSELoss.yaml").unlink()
    write_mapping(mappings, "torch.nn/HuberLoss.yaml", VALID_MAPPING.replace("L1Loss", "HuberLoss"))
    child = subprocess.Popen([sys.executable, "-c", WRITE_AND_PAUSE, str(mappings), str(output), "HuberLoss.md"],
                             cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "PAUSED", child.stderr.read()
    finally:
        child.send_signal(signal.SIGKILL)
        child.communicate(timeout=10)
    assert user_files_intact(output)
    result = generate([mappings], output, NO_RUN)
    assert user_files_intact(output)
    assert (output / "torch.nn" / "HuberLoss.md").is_file() and not (output / "torch.nn" / "MSELoss.md").exists()
    assert output / "torch.nn" / "MSELoss.md" in result.removed
    assert [path.name for path in output.rglob("*.tmp")] == []


def test_the_cli_run_keeps_the_users_files_through_a_normal_run_and_a_removal(tmp_path: Path):
    mappings, output = two_mappings(tmp_path / "mappings"), with_user_files(tmp_path / "out")
    assert run_into(mappings, output).returncode == 0
    (mappings / "torch.nn" / "MSELoss.yaml").unlink()
    completed = run_into(mappings, output)
    assert completed.returncode == 0, completed.stderr
    assert not (output / "torch.nn" / "MSELoss.md").exists() and (output / "torch.nn" / "L1Loss.md").is_file()
    assert user_files_intact(output)


def test_a_sphinx_build_keeps_the_users_files_in_the_generated_folder(tmp_path: Path):
    from .site_build import build_site

    mappings = two_mappings(tmp_path / "mappings")
    status, source, html = build_site(tmp_path, "mapping_execute=0", mappings=mappings)
    assert status == 0
    api = source / "docs" / "api"
    (api / "data.csv").write_text("a,b\n")
    (api / "_snippets").mkdir()
    (mappings / "torch.nn" / "MSELoss.yaml").unlink()
    status, _, _ = build_site(tmp_path, "mapping_execute=0", mappings=mappings)
    assert status == 0
    assert (api / "data.csv").read_text() == "a,b\n" and (api / "_snippets").is_dir()
    assert not (api / "torch.nn" / "MSELoss.md").exists() and not (html / "docs" / "api" / "torch.nn" / "MSELoss.html").exists()


def test_the_language_source_copy_removes_only_the_copies_it_made(tmp_path: Path):
    from generator.languages import sync_docs

    docs, copy = tmp_path / "docs", tmp_path / "staging" / "docs"
    (docs / "guide").mkdir(parents=True)
    (docs / "index.md").write_text("# Index\n")
    (docs / "guide" / "old.md").write_text("# Old\n")
    sync_docs(docs, copy)
    (copy / "mine.md").write_text("# a user's file\n")
    (docs / "guide" / "old.md").unlink()
    sync_docs(docs, copy)
    assert not (copy / "guide").exists() and (copy / "mine.md").read_text() == "# a user's file\n"
    assert (copy / "index.md").read_text() == "# Index\n"


# --- item 8: faults while writing the site ----------------------------------------------------

def site_arguments(workdir: Path) -> list[str]:
    """``generator html`` of one language, two mappings, no examples run, into ``workdir/html``."""
    source = workdir / "src"
    if not source.exists():
        shutil.copytree(ROOT / "docs", source / "docs", ignore=shutil.ignore_patterns("api"))
    code = ("import sys; from pathlib import Path; from generator import cli, languages;"
            "real = languages.build;"
            "languages.build = lambda out, **kw: real(out, srcdir=Path(sys.argv[1]), staging=Path(sys.argv[2]), **kw);"
            "sys.exit(cli.main(sys.argv[3:]))")
    return ["-c", code, str(source), str(workdir / "staging"), "html", "--out", str(workdir / "html"),
            "--language", "en", "-D", "mapping_execute=0", "-D", f"mapping_paths={workdir / 'mappings'}",
            "-D", f"mapping_cache={workdir / 'outputs.sqlite'}", "--", "-W", "--keep-going", "-q"]


def build_html(workdir: Path, preexec=None) -> subprocess.CompletedProcess:
    """The site build in a child whose temporary folder is ``workdir/tmp`` (where a crash report would go)."""
    (workdir / "tmp").mkdir(exist_ok=True)
    return subprocess.run([sys.executable, *site_arguments(workdir)], cwd=ROOT, capture_output=True, text=True,
                          timeout=180, preexec_fn=preexec, env={**os.environ, "TMPDIR": str(workdir / "tmp")})


def small_file_limit(limit: int):
    """preexec_fn: a child whose files cannot grow past ``limit`` bytes, as on a full disk."""
    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))
    return apply



def one_clear_error(completed: subprocess.CompletedProcess, workdir: Path, *words: str) -> None:
    output = completed.stdout + completed.stderr
    assert completed.returncode != 0
    assert all(word in completed.stderr for word in words), completed.stderr
    assert "Traceback" not in output and "open an issue" not in output and "full traceback" not in output
    assert list((workdir / "tmp").glob("sphinx-err-*")) == []


@pytest.fixture
def built_site(tmp_path: Path) -> Path:
    """A site built, and built again with nothing changed: its work folder holds a copy of it, so a
    fault in the next build strikes Sphinx, not the copying."""
    two_mappings(tmp_path / "mappings")
    for _ in range(2):
        completed = build_html(tmp_path)
        assert completed.returncode == 0, completed.stderr
    return tmp_path


def big_summary(workdir: Path) -> None:
    """A mapping whose page is about 100 KB, and so its HTML page more: a write that a limit stops."""
    write_mapping(workdir / "mappings", "torch.nn/MSELoss.yaml", L1LOSS_PAIR.replace("L1Loss", "MSELoss").replace(
        "summary: The same loss.", "summary: " + "Quite a long summary. " * 4500))


def site_is_whole(html: Path) -> bool:
    return (html / "docs" / "api" / "torch.nn" / "MSELoss.html").is_file() and (html / "searchindex.js").is_file()


def test_a_full_disk_mid_sphinx_leaves_the_published_site_and_the_next_build_recovers(built_site: Path):
    site = built_site / "html" / "en"
    before = snapshot(site)
    big_summary(built_site)
    completed = build_html(built_site, preexec=small_file_limit(130_000))
    one_clear_error(completed, built_site, "File too large (disk full")
    assert snapshot(site) == before  # the old site, whole
    completed = build_html(built_site)
    assert completed.returncode == 0, completed.stderr
    assert "Quite a long summary." in (site / "docs" / "api" / "torch.nn" / "MSELoss.html").read_text()
    assert site_is_whole(site)


def test_a_full_disk_while_copying_the_site_for_a_build_is_one_clear_error_and_the_site_stays(built_site: Path):
    html = built_site / "html"
    before = snapshot(html / "en")
    shutil.rmtree(work_folder(html, "en"))  # the next build copies the whole site first
    completed = build_html(built_site, preexec=small_file_limit(20_000))
    one_clear_error(completed, built_site, "error: cannot build the en site into", "File too large (disk full")
    assert snapshot(html / "en") == before
    assert build_html(built_site).returncode == 0 and site_is_whole(html / "en")


def test_a_read_only_site_folder_is_one_clear_error_and_the_site_stays(built_site: Path):
    html = built_site / "html"
    before = snapshot(html / "en")
    write_mapping(built_site / "mappings", "torch.nn/MSELoss.yaml",
                  VALID_MAPPING.replace("L1Loss", "MSELoss").replace("The same loss.", "Changed."))
    folders = [html, *(path for path in html.rglob("*") if path.is_dir())]
    for folder in folders:
        folder.chmod(0o555)
    try:
        completed = build_html(built_site, preexec=without_root_override)
    finally:
        for folder in folders:
            folder.chmod(0o755)
    one_clear_error(completed, built_site, "Permission denied")
    assert snapshot(html / "en") == before
    completed = build_html(built_site)
    assert completed.returncode == 0, completed.stderr
    assert "Changed." in (html / "en" / "docs" / "api" / "torch.nn" / "MSELoss.html").read_text()


def test_the_build_after_a_failed_one_publishes_every_page_that_the_failed_one_changed(built_site: Path):
    """A build fails on a warning after reading a new mapping (its environment is saved); the next
    one, warning fixed, must not publish the other pages without their link to the new one."""
    write_mapping(built_site / "mappings", "torch.nn/HuberLoss.yaml", VALID_MAPPING.replace("L1Loss", "HuberLoss"))
    broken = built_site / "src" / "docs" / "broken.md"
    broken.write_text("# Broken\n\nSee {ref}`no-such-label`.\n")
    assert build_html(built_site).returncode != 0
    broken.unlink()
    completed = build_html(built_site)
    assert completed.returncode == 0, completed.stderr
    assert "HuberLoss.html" in (built_site / "html" / "en" / "docs" / "api" / "torch.nn" / "L1Loss.html").read_text()


def test_an_empty_build_info_left_by_an_old_full_disk_is_discarded(built_site: Path):
    site = built_site / "html" / "en"
    for folder in (site, work_folder(built_site / "html", "en")):
        if folder.is_dir():
            (folder / ".buildinfo").write_text("")
    completed = build_html(built_site)
    assert completed.returncode == 0, completed.stderr
    assert (site / ".buildinfo").read_text().startswith("# Sphinx build info")
    assert site_is_whole(site)


def test_a_no_op_build_rewrites_no_page_and_a_change_is_published(built_site: Path):
    page = built_site / "html" / "en" / "docs" / "api" / "torch.nn" / "L1Loss.html"
    written = page.stat().st_mtime_ns
    assert build_html(built_site).returncode == 0
    assert page.stat().st_mtime_ns == written  # Sphinx's environment survived the swap: nothing read or written
    write_mapping(built_site / "mappings", "torch.nn/L1Loss.yaml", VALID_MAPPING.replace("The same loss.", "Zyzzyva."))
    assert build_html(built_site).returncode == 0
    assert "Zyzzyva." in page.read_text()
