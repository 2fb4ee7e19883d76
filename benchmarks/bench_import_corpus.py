"""Import a generated corpus of seed-format pages and print how much of it survives.

    .venv/bin/python benchmarks/bench_import_corpus.py [--pages 400] [--seed 7]

Pages are generated here (no third-party text): real PyTorch/MindSpore API pairs with the
signatures the installed frameworks report, written in the variations hand-written pages show --
English or Chinese, several title forms, the differences table under ``##`` or ``###`` with
several header wordings, summaries as "PyTorch: ..." or "**PyTorch**：..." or only free prose,
lists, numbered lists and math, one or two API pairs, and code as one marked block, one block per
side, imports written once above both halves, or blocks without markers. For each page it
counts: imported, passing ``check`` (schema, placeholders, device portability), warnings, and
whether import -> render kept every table row, paragraph, list item, link and code line (the
comparison of ``tests/test_import_roundtrip.py``). Figures are printed per language.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from generator.importer import _category_of, import_pages  # noqa: E402
from generator.introspect import signature_of  # noqa: E402
from generator.loader import load_file, placeholder_problems  # noqa: E402
from generator.portability import portability_problems  # noqa: E402
from generator.render import Renderer  # noqa: E402
from tests.test_import_roundtrip import content_of, rendered_text  # noqa: E402

PAIRS = [
    ("torch.abs", "mindspore.ops.abs", "function"), ("torch.add", "mindspore.ops.add", "function"),
    ("torch.clamp", "mindspore.ops.clamp", "function"), ("torch.cumsum", "mindspore.ops.cumsum", "function"),
    ("torch.sort", "mindspore.ops.sort", "function"), ("torch.flatten", "mindspore.ops.flatten", "function"),
    ("torch.sum", "mindspore.ops.sum", "function"), ("torch.mean", "mindspore.ops.mean", "function"),
    ("torch.matmul", "mindspore.ops.matmul", "function"), ("torch.exp", "mindspore.ops.exp", "function"),
    ("torch.sqrt", "mindspore.ops.sqrt", "function"), ("torch.argmax", "mindspore.ops.argmax", "function"),
    ("torch.nn.functional.relu", "mindspore.ops.relu", "function"),
    ("torch.nn.functional.softplus", "mindspore.ops.softplus", "function"),
    ("torch.nn.ReLU", "mindspore.nn.ReLU", "class"), ("torch.nn.Softmax", "mindspore.nn.Softmax", "class"),
    ("torch.nn.Flatten", "mindspore.nn.Flatten", "class"), ("torch.nn.MSELoss", "mindspore.nn.MSELoss", "class"),
    ("torch.nn.L1Loss", "mindspore.nn.L1Loss", "class"), ("torch.nn.GELU", "mindspore.nn.GELU", "class"),
]
METHODS = {"torch.abs": ("torch.Tensor.abs", "mindspore.Tensor.abs"), "torch.sum": ("torch.Tensor.sum", "mindspore.Tensor.sum"),
           "torch.exp": ("torch.Tensor.exp", "mindspore.Tensor.exp"), "torch.mean": ("torch.Tensor.mean", "mindspore.Tensor.mean")}

TITLES = {"en": ["# Differences with {api}", "# Function Differences with {api}"],
          "zh": ["# 与{api}的差异", "# 比较与{api}的功能差异"]}
MORE = {"en": "For more information, see [{api}]({url}).", "zh": "更多内容详见[{api}]({url})。"}
DIFF = {"en": ["## Differences", "## Function Differences"], "zh": ["## 差异对比", "## 功能差异"]}
SUBSECTION = {"en": "### Parameter differences", "zh": "### 参数差异"}
HEADERS = {"en": ["| Categories | Subcategories | PyTorch | MindSpore | Difference |",
                  "| Category | Subcategory | PyTorch API | MindSpore API | Description |"],
           "zh": ["| 分类 | 子类 | PyTorch | MindSpore | 差异 |", "| 类型 | 项 | torch 接口 | mindspore 接口 | 说明 |"]}
WORDS = {"en": {"param": "Parameter", "cat": "Parameters", "renamed": "Same function, different parameter names",
                "only": "Not in MindSpore", "summary_s": "Computes {name} of the input; see `{api}`.",
                "summary_t": "Does the same; the input is written `x` in some releases.",
                "free": "Both APIs compute {name}, element by element, with the same *rounding*.",
                "list": ["Both accept tensors of any shape.", "Neither changes the input in place."],
                "numbered": ["Convert the input with `Tensor`.", "Call the API.", "Compare with $\\epsilon = 10^{-6}$."],
                "note": "The two APIs give the same result for this input.", "example": "### Code Example {n}"},
         "zh": {"param": "参数", "cat": "参数", "renamed": "功能一致，参数名不同", "only": "MindSpore无此参数",
                "summary_s": "计算输入的{name}，详见`{api}`。", "summary_t": "实现相同功能。",
                "free": "两个接口都逐元素计算{name}，*舍入方式*相同。",
                "list": ["两者都接受任意形状的张量。", "两者都不原地修改输入。"],
                "numbered": ["用`Tensor`转换输入。", "调用接口。", "与$\\epsilon = 10^{-6}$比较。"],
                "note": "两个接口对该输入的结果相同。", "example": "### 代码示例{n}"}}


def signature_text(api: str, kind: str) -> str:
    try:
        signature = signature_of(api, kind)
    except Exception:  # noqa: BLE001 - an API this release lacks still makes a page
        signature = None
    if signature is None or not signature.forms:
        return f"{api}(*args, **kwargs)"
    parameters = ", ".join(param.name + (f"={param.default_repr}" if param.default_repr else "")
                           for param in signature.forms[0] if param.kind not in ("VAR_POSITIONAL", "VAR_KEYWORD"))
    return f"{'class ' if kind == 'class' else ''}{api}({parameters})"


def parameters_of(api: str, kind: str) -> list[str]:
    try:
        signature = signature_of(api, kind)
    except Exception:  # noqa: BLE001
        return ["input"]
    if signature is None or not signature.forms:
        return ["input"]
    return [param.name for param in signature.forms[0] if param.kind not in ("VAR_POSITIONAL", "VAR_KEYWORD")][:5]


def api_section(api: str, kind: str, language: str) -> list[str]:
    url = f"https://example.org/docs/{api}.html"
    return [f"## {api}", "", "```text", signature_text(api, kind), "```", "", MORE[language].format(api=api, url=url), ""]


def table(source: str, target: str, kind: str, language: str, rng: random.Random) -> list[str]:
    words = WORDS[language]
    lines = [rng.choice(HEADERS[language]), "| --- | --- | --- | --- | --- |"]
    left, right = parameters_of(source, kind), parameters_of(target, kind)
    for number, name in enumerate(left, start=1):
        other = right[number - 1] if number - 1 < len(right) else "-"
        note = "-" if other == name else (words["only"] if other == "-" else words["renamed"])
        label = f"{words['param']} {number}" if language == "en" else f"{words['param']}{number}"
        lines.append(f"| {words['cat'] if number == 1 else ''} | {label} | {name} | {other} | {note} |")
    return lines


def code(language: str, form: str, source: str, target: str, rng: random.Random) -> list[str]:
    torch_code = ["import torch", "x = torch.tensor([1.0, -2.0, 3.0])", "print(x * 2)", "# [ 2. -4.  6.]"]
    ms_code = ["import mindspore", "x = mindspore.Tensor([1.0, -2.0, 3.0], mindspore.float32)", "print(x * 2)",
               "# [ 2. -4.  6.]"]
    if form == "marked":
        return ["```python", "# PyTorch", *torch_code, "", "# MindSpore", *ms_code, "```"]
    if form == "per-side":
        return ["```python", "# PyTorch", *torch_code, "```", "", "```python", "# MindSpore", *ms_code, "```"]
    if form == "shared-imports":
        return ["```python", "import numpy as np", "", "# PyTorch", *torch_code, "print(np.float32(1.5))", "",
                "# MindSpore", *ms_code, "print(np.float32(1.5))", "```"]
    return ["```python", *torch_code, "```", "", "```python", *ms_code, "```", "", "```python",
            "values = [1.0, -2.0, 3.0]", "print([2 * v for v in values])", "```"]  # unmarked


def page(rng: random.Random, language: str) -> str:
    source, target, kind = rng.choice(PAIRS)
    words = WORDS[language]
    name = source.rsplit(".", 1)[1]
    lines = [rng.choice(TITLES[language]).format(api=source), ""]
    if rng.random() < 0.5:
        lines += ["[![View Source On Gitee](https://example.org/logo.png)](https://example.org/page.md)", ""]
    lines += api_section(source, kind, language)
    two_pairs = source in METHODS and rng.random() < 0.5
    if two_pairs:
        lines += api_section(METHODS[source][0], "method", language)
    lines += api_section(target, kind, language)
    if two_pairs:
        lines += api_section(METHODS[source][1], "method", language)
    lines += [rng.choice(DIFF[language]), ""]
    summary = rng.choice(["plain", "bold", "free"])
    if summary == "plain":
        lines += [f"PyTorch: {words['summary_s'].format(name=name, api=source)}", "",
                  f"MindSpore: {words['summary_t']}", ""]
    elif summary == "bold":
        lines += [f"**PyTorch**：{words['summary_s'].format(name=name, api=source)}", "",
                  f"**MindSpore**：{words['summary_t']}", ""]
    else:
        lines += [words["free"].format(name=name), ""]
    if rng.random() < 0.5:
        lines += [f"- {item}" for item in words["list"]] + [""]
    if rng.random() < 0.5:
        lines += [f"{number}. {item}" for number, item in enumerate(words["numbered"], start=1)] + [""]
    if rng.random() < 0.3:
        lines += ["$$", "y = |x|", "$$", ""]
    if rng.random() < 0.5:
        lines += [SUBSECTION[language], ""]
    lines += table(source, target, kind, language, rng) + [""]
    for number in range(1, rng.choice([1, 2]) + 1):
        lines += [words["example"].format(n=number), "", f"> {words['note']}", ""]
        lines += code(language, rng.choice(["marked", "per-side", "shared-imports", "unmarked"]), source, target, rng)
        lines += [""]
    return "\n".join(lines)


def kept_everything(page_path: Path, markdown: str) -> bool:
    original = content_of(page_path.read_text(encoding="utf-8"))
    text, links, code_lines, math = rendered_text(markdown)
    rows_kept = all(cell in text for cells in original["rows"] for cell in cells
                    if cell and cell not in ("-", "/") and _category_of(cell) == (None, None))
    return (all(paragraph in text for paragraph in original["paragraphs"] if paragraph) and rows_kept
            and all(href in links for href in original["links"]) and all(line in code_lines for line in original["code"])
            and all(block in math for block in original["math"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=400)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    stats: dict[str, Counter] = {"en": Counter(), "zh": Counter()}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        base = Path(folder)
        for index in range(args.pages):
            language = "en" if index % 2 == 0 else "zh"
            path = base / "pages" / f"{index:04d}_{language}.md"
            path.parent.mkdir(exist_ok=True)
            path.write_text(page(rng, language), encoding="utf-8")
            out = base / "out" / str(index)
            result = import_pages([path], out)
            counts = stats[language]
            counts["pages"] += 1
            counts["warnings"] += len(result.warnings)
            if not result.written:
                continue
            counts["imported"] += 1
            loaded, problems = load_file(result.written[0])
            if loaded is None or problems or placeholder_problems(loaded) or portability_problems(loaded):
                continue
            counts["pass check"] += 1
            if kept_everything(path, Renderer().page(loaded)):
                counts["round trip complete"] += 1
    elapsed = time.perf_counter() - started
    for language, counts in stats.items():
        pages = counts["pages"]
        print(f"{language}: {pages} pages, {counts['imported']} imported, {counts['pass check']} pass check "
              f"({100 * counts['pass check'] / pages:.1f}%), {counts['round trip complete']} keep every row/paragraph/"
              f"list/link/code line ({100 * counts['round trip complete'] / pages:.1f}%), "
              f"{counts['warnings'] / pages:.1f} warnings per page")
    total = sum(counts["pages"] for counts in stats.values())
    print(f"{total} pages in {elapsed:.1f} s ({1000 * elapsed / total:.1f} ms per page, import + check + render)")


if __name__ == "__main__":
    main()
