"""generator.importer: hand-written difference pages (seed format) -> mapping YAML."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from generator import importer
from generator.importer import ImportResult, ImportWarning, import_pages
from generator.loader import load_file
from generator.scaffold import SCHEMA_LINE

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT.parent / "shared" / "seeds"
PAGES = Path(__file__).resolve().parent / "fixtures" / "pages"
MALFORMED = PAGES / "malformed"


def _seed(prefix: str) -> Path:
    found = sorted(SEEDS.glob(f"{prefix}_*.txt")) if SEEDS.is_dir() else []
    if not found:
        pytest.skip(f"seed {prefix} not found in {SEEDS}")
    return found[0]


def _import_one(page: Path, out_dir: Path):
    result = import_pages([page], out_dir)
    assert isinstance(result, ImportResult)
    assert len(result.written) == 1, [str(warning) for warning in result.warnings]
    loaded, problems = load_file(result.written[0])
    assert problems == [], [str(problem) for problem in problems]
    return loaded.mapping, result


def _messages(result: ImportResult) -> list[str]:
    return [warning.message for warning in result.warnings]


# --------------------------------------------------------------------------- seeds


def test_seed_000(tmp_path):
    mapping, result = _import_one(_seed("000"), tmp_path)
    assert result.written == [tmp_path / "torch.nn" / "CosineEmbeddingLoss.yaml"]
    assert result.written[0].read_text(encoding="utf-8").splitlines()[0] == SCHEMA_LINE
    assert mapping.source.api == "torch.nn.CosineEmbeddingLoss"
    assert mapping.target.api == "mindspore.nn.CosineEmbeddingLoss"
    assert mapping.source.kind.value == mapping.target.kind.value == "class"
    assert mapping.source.signature.startswith("class torch.nn.CosineEmbeddingLoss(\n    margin=0.0,")
    assert mapping.target.signature.endswith(")(logits_x1, logits_x2, labels) -> Tensor/Scalar")
    assert mapping.source.url == "https://pytorch.org/docs/1.8.1/generated/torch.nn.CosineEmbeddingLoss.html"
    assert mapping.target.url == ("https://www.mindspore.cn/docs/en/master/api_python/nn/"
                                  "mindspore.nn.CosineEmbeddingLoss.html")
    assert mapping.source.summary.startswith("Cosine similarity loss function")
    assert mapping.target.summary == "Implement the same function as PyTorch."
    assert [(row.category, row.source, row.target) for row in mapping.differences] == [
        ("Parameters", "margin", "margin"), ("Parameters", "size_average", None),
        ("Parameters", "reduce", None), ("Parameters", "reduction", "reduction"),
        ("Parameters", "x1", "logits_x1"), ("Parameters", "x2", "logits_x2"), ("Parameters", "target", "labels")]
    assert mapping.differences[0].note is None
    assert mapping.differences[1].note == "Deprecated, function taken over by reduction"
    assert mapping.differences[4].note == "Same function, different parameter names"
    assert mapping.status.value == "names-differ"  # renames only; deprecated parameters may be absent
    assert any(message.startswith("status guessed as names-differ") for message in _messages(result))
    (example,) = mapping.examples
    assert example.note == "The two APIs achieve the same function and have the same usage."
    assert example.same_values
    assert "print(output.detach().numpy())" in example.source
    assert "print(output)" in example.target
    assert "0.0003425479" not in example.target and "0.000342583" not in example.source
    assert "# PyTorch" not in example.source and "# MindSpore" not in example.target
    assert example.source.startswith("import torch\n") and example.target.startswith("import mindspore\n")


def test_seed_001_function_against_class(tmp_path):
    mapping, _ = _import_one(_seed("001"), tmp_path)
    assert mapping.source.api == "torch.nn.functional.soft_margin_loss"
    assert mapping.source.kind.value == "function" and mapping.target.kind.value == "class"
    assert [(row.source, row.target) for row in mapping.differences] == [
        ("input", "logits"), ("target", "labels"), ("size_average", None), ("reduce", None),
        ("reduction", "reduction")]
    assert mapping.status.value == "names-differ"
    assert mapping.examples[0].same_values
    assert "# 0.6764238" not in mapping.examples[0].source + mapping.examples[0].target


def test_seed_003_inputs_and_target_only_parameter(tmp_path):
    mapping, _ = _import_one(_seed("003"), tmp_path)
    rows = [(row.category, row.source, row.target) for row in mapping.differences]
    assert ("Parameters", None, "label_smoothing") in rows
    assert rows[-2:] == [("Inputs", "input", "logits"), ("Inputs", "target", "labels")]
    assert mapping.status.value == "parameters-differ"
    assert mapping.examples[0].note.startswith("Both PyTorch and MindSpore support")
    assert mapping.examples[0].same_values  # both printed 2.764


def _seed_parts(text: str) -> dict:
    """The seed's own content, read with plain string operations independent of the importer."""
    signatures = re.findall(r"^## (\S+)\n\n```text\n(.*?)\n```", text, re.MULTILINE | re.DOTALL)
    table_rows = [line.split("|")[1:-1] for line in text.splitlines()
                  if line.startswith("|") and re.search(r"(Parameter|Input) \d", line)]
    names = [tuple(None if cell.strip() == "-" else cell.strip() for cell in row[2:4]) for row in table_rows]
    code = text.split("```python\n", 1)[1].split("\n```", 1)[0]
    torch_half, mindspore_half = code.split("# MindSpore\n")
    halves = []
    for half in (torch_half.replace("# PyTorch\n", ""), mindspore_half):
        lines, previous = [], ""
        for line in half.splitlines():
            if line.startswith("# ") and (previous.startswith("print(") or previous.startswith("# ")):
                previous = line
                continue
            lines.append(line)
            previous = line
        halves.append("\n".join(lines).strip() + "\n")
    return {"signatures": signatures, "names": names, "code": halves}


@pytest.mark.parametrize("prefix", ["000", "001", "003"])
def test_round_trip_keeps_the_seed_content(prefix, tmp_path):
    page = _seed(prefix)
    expected = _seed_parts(page.read_text(encoding="utf-8"))
    mapping, _ = _import_one(page, tmp_path)
    assert [(mapping.source.api, mapping.source.signature), (mapping.target.api, mapping.target.signature)] == \
        expected["signatures"]
    assert [(row.source, row.target) for row in mapping.differences] == expected["names"]
    assert [mapping.examples[0].source, mapping.examples[0].target] == expected["code"]


def test_all_seeds_at_once_and_a_folder(tmp_path):
    if not SEEDS.is_dir():
        pytest.skip(f"{SEEDS} not found")
    result = import_pages([SEEDS], tmp_path)
    names = {path.relative_to(tmp_path).as_posix() for path in result.written}
    assert {"torch.nn/CosineEmbeddingLoss.yaml", "torch.nn.functional/soft_margin_loss.yaml",
            "torch.nn/CrossEntropyLoss.yaml"} <= names
    for path in result.written:
        assert load_file(path)[1] == []


# --------------------------------------------------------------------------- own fixture pages


def test_two_code_examples_and_one_block_per_side(tmp_path):
    mapping, result = _import_one(PAGES / "SmoothL1Loss.md", tmp_path)
    assert mapping.source.summary.startswith("Uses a squared term") and "otherwise;" in mapping.source.summary
    assert mapping.target.summary.startswith("Computes the same loss")
    reduction = next(row for row in mapping.differences if row.source == "reduction")
    assert reduction.note == "The default is 'mean' in PyTorch and 'none' in MindSpore"
    assert [row.category for row in mapping.differences].count("Inputs") == 2
    assert mapping.status.value == "parameters-differ"
    first, second = mapping.examples
    assert first.same_values and first.note.startswith("With reduction='mean'")
    assert second.note.startswith("Left at their defaults")
    assert second.same_values  # both print: the real outputs decide (one number against six disagrees)
    assert "import torch" in second.source and "import mindspore" in second.target
    assert "0.005" not in second.target and "[[" not in second.target.split("print(")[-1]
    assert second.target.rstrip().endswith("mindspore.Tensor(y)))")
    assert not any("prose" in message for message in _messages(result))


def test_chinese_page(tmp_path):
    mapping, _ = _import_one(PAGES / "mse_loss_zh.md", tmp_path)
    assert mapping.source.api == "torch.nn.functional.mse_loss"
    assert mapping.target.api == "mindspore.ops.mse_loss"
    assert mapping.source.kind.value == "function"
    assert mapping.source.signature.startswith("torch.nn.functional.mse_loss(input, target,")  # ```python block
    assert mapping.source.summary == "计算输入与目标之间逐元素差的平方，再按reduction归约。"
    assert mapping.target.summary.startswith("实现与PyTorch相同的功能")
    assert mapping.target.url.endswith("mindspore.ops.mse_loss.html")
    assert [(row.category, row.source, row.target, row.note) for row in mapping.differences][-2:] == [
        ("Parameters", "weight", None, "MindSpore无此参数"), ("Outputs", "Tensor", "Tensor", None)]
    assert mapping.status.value == "parameters-differ"
    (example,) = mapping.examples
    assert example.note == "两API实现相同的功能，用法相同。" and example.same_values
    assert "1.2766" not in example.source + example.target


def test_method_page_with_sections_and_single_side_examples(tmp_path):
    mapping, result = _import_one(PAGES / "Tensor_flip.md", tmp_path)
    assert result.written == [tmp_path / "torch.Tensor" / "flip.yaml"]
    assert mapping.source.kind.value == mapping.target.kind.value == "method"
    assert mapping.source.signature == "torch.Tensor.flip(dims) -> Tensor"
    assert mapping.source.summary.startswith("Reverses")  # "**PyTorch**:" form
    assert mapping.differences[0].source == "dims"  # backticks dropped
    (section,) = mapping.sections
    assert section.title == "Calling convention"
    assert section.items == [] and section.text == "A single axis has to be wrapped in a tuple for MindSpore:\n\n- PyTorch: `x.flip(1)`\n- MindSpore: `x.flip((1,))`"  # a list
    first, second = mapping.examples
    assert first.source is None and "x.flip((1,))" in first.target and first.note.startswith("Only MindSpore")
    assert second.target is None and second.note is None and "x.flip(1)" in second.source
    assert "tensor([[3." not in second.source and "6. 5. 4." not in first.target
    assert not first.same_values and not second.same_values


def test_fixture_examples_have_no_leftover_output_comments(tmp_path):
    result = import_pages([PAGES / "SmoothL1Loss.md", PAGES / "mse_loss_zh.md", PAGES / "Tensor_flip.md"], tmp_path)
    assert len(result.written) == 3
    for path in result.written:
        mapping = load_file(path)[0].mapping
        for example in mapping.examples:
            for code in (example.source, example.target):
                if code:
                    lines = code.splitlines()
                    for before, after in zip(lines, lines[1:]):
                        assert not (before.startswith("print(") and after.startswith("#")), code


# --------------------------------------------------------------------------- decisions


def _page(tmp_path: Path, note: str, torch_output: str, mindspore_output: str, name: str = "Softsign") -> Path:
    page = tmp_path / f"{name}.md"
    page.write_text(f"""# Differences with torch.nn.{name}

## torch.nn.{name}

```text
class torch.nn.{name}()(input) -> Tensor
```

## mindspore.nn.{name}

```text
class mindspore.nn.{name}()(x) -> Tensor
```

## Differences

PyTorch: Applies x / (1 + |x|) element-wise.

MindSpore: Same.

| Categories | Subcategories | PyTorch | MindSpore | Difference |
| --- | --- | --- | --- | --- |
| Inputs | Input 1 | input | x | Same function, different parameter names |

### Code Example

{note}

```python
# PyTorch
import torch
print(
    torch.nn.{name}()(torch.tensor([1.0]))
)
{torch_output}

# MindSpore
import mindspore
print(mindspore.nn.{name}()(mindspore.Tensor([1.0])))
{mindspore_output}
```
""", encoding="utf-8")
    return page


def test_equal_outputs_mean_same_values_without_a_note(tmp_path):
    mapping, _ = _import_one(_page(tmp_path, "", "# [0.5]", "# [0.5]"), tmp_path / "out")
    assert mapping.examples[0].same_values and mapping.examples[0].note is None
    assert "print(\n    torch.nn.Softsign()(torch.tensor([1.0]))\n)\n" in mapping.examples[0].source


@pytest.mark.parametrize("note, left, right", [
    ("", "# [0.5]", "# [0.7]"),  # the typed outputs differ: the real run must say so
    ("> The two APIs achieve the same function, but MindSpore returns float16.", "", ""),
    ("> The two APIs achieve the same function.", "# 1.0", "# 2.0"),
])
def test_comparison_is_on_wherever_both_sides_print(note, left, right, tmp_path):
    mapping, _ = _import_one(_page(tmp_path, note, left, right), tmp_path / "out")
    example = mapping.examples[0]
    assert example.same_values and example.tolerance.rtol == 1e-5  # never widened from typed outputs


def test_comparison_is_off_when_one_side_prints_nothing(tmp_path):
    page = _page(tmp_path, "", "# [0.5]", "# [0.5]")
    page.write_text(page.read_text(encoding="utf-8").replace("print(mindspore.nn", "value = (mindspore.nn"), encoding="utf-8")
    mapping, _ = _import_one(page, tmp_path / "out")
    assert "print" not in mapping.examples[0].target and not mapping.examples[0].same_values


def test_multi_line_output_comments_and_prose_warning(tmp_path):
    page = _page(tmp_path, "", "# [[1. 2.]\n#  [3. 4.]]\n# Note that this shows the result", "# [[1. 2.]\n#  [3. 4.]]")
    mapping, result = _import_one(page, tmp_path / "out")
    assert "[3. 4.]" not in mapping.examples[0].source
    prose = [warning for warning in result.warnings if "reads like prose" in warning.message]
    assert len(prose) == 1 and prose[0].line == 37  # the line of that comment in the page


# --------------------------------------------------------------------------- refusals and robustness


def test_refuses_to_overwrite(tmp_path):
    page = PAGES / "SmoothL1Loss.md"
    first = import_pages([page], tmp_path)
    text = first.written[0].read_text(encoding="utf-8")
    second = import_pages([page], tmp_path)
    assert second.written == []
    assert any("already exists and maps these pairs; not overwritten" in message for message in _messages(second))
    assert first.written[0].read_text(encoding="utf-8") == text


def test_refuses_a_source_api_mapped_elsewhere(tmp_path):
    other = tmp_path / "old" / "Smooth.yaml"
    other.parent.mkdir()
    other.write_text("source:\n  api: torch.nn.SmoothL1Loss\n", encoding="utf-8")
    result = import_pages([PAGES / "SmoothL1Loss.md"], tmp_path)
    assert result.written == []
    assert any("already mapped in" in message for message in _messages(result))


def test_missing_paths_and_empty_folders_are_warnings(tmp_path):
    (tmp_path / "empty").mkdir()
    result = import_pages([tmp_path / "nope.md", tmp_path / "empty"], tmp_path / "out")
    assert result.written == []
    assert _messages(result) == ["no such file", "no .md or .txt pages in this folder"]


def test_an_internal_error_becomes_a_warning(tmp_path, monkeypatch):
    def explode(self, blocks):
        raise RuntimeError("boom")

    monkeypatch.setattr(importer._Page, "read", explode)
    result = import_pages([PAGES / "SmoothL1Loss.md", PAGES / "mse_loss_zh.md"], tmp_path)
    assert result.written == []
    assert [warning.message for warning in result.warnings] == [
        "internal error, page not imported: RuntimeError: boom"] * 2


def test_warning_text():
    warning = ImportWarning(Path("pages/a.md"), 12, "row skipped")
    assert str(warning) == "pages/a.md:12: row skipped"


EXPECTED = {  # malformed page -> (a file is written?, a warning that must be among them)
    "empty.md": (False, "the page is empty"),
    "blank_lines.md": (False, "the page is empty"),
    "binary_garbage.bin": (False, "binary data"),
    "latin1.md": (False, "not UTF-8 text"),
    "heading_only.md": (False, "no '## mindspore.…' section"),
    "no_title.md": (True, "no title"),
    "truncated_table.md": (True, "table row has 3 cells, the header has 5; the missing cells are taken as empty"),
    "unclosed_fence.md": (True, "code block opened here is not closed"),
    "wrong_columns.md": (True, "table row has 6 cells, the header has 5; kept as prose"),
    "unknown_header.md": (True, "is not a differences table"),
    "no_target.md": (False, "no '## mindspore.…' section"),
    "same_framework.md": (False, "no '## mindspore.…' section"),
    "bad_rows.md": (True, "row names no parameter on either side"),
    "only_code.md": (False, "no title"),
    "garbage_text.md": (False, "never closed"),
    "messy_examples.md": (True, "reads like prose"),
    "crlf.md": (True, "status guessed"),
}


def test_every_malformed_page_is_listed():
    assert sorted(path.name for path in MALFORMED.iterdir()) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_malformed_pages_give_warnings_not_tracebacks(name, tmp_path):
    page = MALFORMED / name
    result = import_pages([page], tmp_path)
    written, expected_message = EXPECTED[name]
    assert result.warnings, "a malformed page must say what is wrong with it"
    assert not any(message.startswith("internal error") for message in _messages(result))
    assert all(warning.path == page and warning.line >= 1 for warning in result.warnings)
    assert any(expected_message in message for message in _messages(result)), _messages(result)
    assert bool(result.written) == written
    for path in result.written:
        assert load_file(path)[1] == []


def test_malformed_details(tmp_path):
    result = import_pages([MALFORMED / "unclosed_fence.md", MALFORMED / "crlf.md", MALFORMED / "bad_rows.md"],
                          tmp_path)
    by_name = {load_file(path)[0].mapping.source.api: load_file(path)[0].mapping for path in result.written}
    gelu = by_name["torch.nn.GELU"]  # the signature block stops where Markdown resumes
    assert gelu.source.signature == "class torch.nn.GELU(approximate='none')(input) -> Tensor"
    assert gelu.target.signature == "class mindspore.nn.GELU(approximate=True)(x) -> Tensor"
    assert gelu.target.summary is None  # no summary on the page: none invented
    relu = by_name["torch.nn.ReLU"]
    assert [(row.source, row.target) for row in relu.differences] == [("inplace", None), ("input", "x")]
    dropout = by_name["torch.nn.Dropout"]
    assert dropout.source.url is None  # ftp link refused
    assert dropout.source.summary == "Zeroes elements at random during training. A second PyTorch summary."
    lines = {(warning.path.name, warning.line) for warning in result.warnings if "ftp://" in warning.message}
    assert lines == {("bad_rows.md", 9)}


def test_truncated_copies_of_good_pages_never_break_the_importer(tmp_path):
    pages = sorted(PAGES.glob("*.md")) + (sorted(SEEDS.glob("00[013]_*.txt")) if SEEDS.is_dir() else [])
    for page in pages:
        lines = page.read_text(encoding="utf-8").splitlines(keepends=True)
        for cut in range(0, len(lines), 3):
            copy = tmp_path / f"cut{cut}" / page.name
            copy.parent.mkdir(exist_ok=True)
            copy.write_text("".join(lines[:cut]), encoding="utf-8")
            result = import_pages([copy], tmp_path / f"out{cut}")
            assert result.warnings, copy
            assert not any(message.startswith("internal error") for message in _messages(result)), copy
            for path in result.written:
                assert load_file(path)[1] == [], copy


@pytest.mark.frameworks
@pytest.mark.parametrize("prefix", ["000", "003"])
def test_imported_seed_renders_to_the_same_page_with_real_outputs(prefix, tmp_path):
    from generator.pipeline import Options, generate
    from generator.render import name_cell

    page = _seed(prefix)
    expected = _seed_parts(page.read_text(encoding="utf-8"))
    result = import_pages([page], tmp_path / "mappings")
    generated = generate([tmp_path / "mappings"], tmp_path / "api",
                         Options(cache_path=tmp_path / "c.sqlite", jobs=2, progress=False))
    (loaded,) = generated.mappings
    markdown = (tmp_path / "api" / f"{loaded.mapping.page_path}.md").read_text()
    for _, signature in expected["signatures"]:
        assert f"```text\n{signature}\n```" in markdown
    for source, target in expected["names"]:
        assert f"| {name_cell(source)} | {name_cell(target)} |" in markdown
    run = generated.runs[(loaded.mapping.source.api, 0)]
    for code, side in zip(expected["code"], (run.source, run.target)):
        assert side.status == "ok" and side.outputs
        code_lines = code.rstrip().splitlines()
        printed = [f"# {line}".rstrip() for output in side.outputs for line in output.text.splitlines()]
        woven = "\n".join(code_lines[: side.outputs[-1].line] + printed + code_lines[side.outputs[-1].line:])
        assert woven in markdown
    assert result.written
