"""``python -m generator new SOURCE TARGET``: start a mapping file from the installed frameworks.

The file it writes is valid from the start (``loader.load_file`` accepts it) and says TODO
wherever a person has to write something: the summaries, the example note, and every
difference row that introspection cannot explain (a parameter on one side only, two
parameters paired by position, defaults that differ). Its example snippets run: each is
tried in a fresh interpreter before it is written, falling back to simpler code when a call
on sample tensors fails.

``dump_mapping`` is also how ``importer`` writes files, so both produce the same layout.
"""

from __future__ import annotations

import json
import keyword
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import yaml

from . import introspect
from .frameworks import FRAMEWORKS, framework_of
from .introspect import ApiNotFound, ApiSignature, Param
from .loader import plain_data, read_mapping_text
from .schema import Mapping

SCHEMA_LINE = "# yaml-language-server: $schema=../../schema/mapping.schema.json"
TODO = "TODO:"

#: Seconds the trial run of one side's example candidates may take.
TRIAL_TIMEOUT = 120

# Sample data for example inputs: the same arrays on both sides, so their outputs compare.
_SAMPLES = (
    "[[0.1, -0.4, 0.7], [0.5, 0.2, -0.3]]",
    "[[0.3, 0.1, -0.2], [0.6, -0.5, 0.4]]",
    "[[-0.2, 0.8, 0.1], [0.9, -0.7, 0.2]]",
    "[[0.4, 0.4, -0.6], [0.1, 0.3, 0.5]]",
)
# Parameter names whose sample is a number or a tuple rather than a tensor.
_INT_NAMES = {"dim": "1", "axis": "1", "dims": "(1,)", "axes": "(1,)", "shape": "(3, 2)", "size": "(3, 2)",
              "new_shape": "(3, 2)", "shifts": "1", "k": "1", "n": "2", "num_classes": "3", "repeats": "2"}


class ScaffoldError(Exception):
    """Why no mapping was written; its message is meant for the contributor as it is."""


# --------------------------------------------------------------------------- YAML output


class _Flow(dict):
    """A mapping written on one line: ``{category: Parameters, source: margin}``."""


class _Dumper(yaml.SafeDumper):
    pass


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value.rstrip("\n") else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


def _represent_flow(dumper: yaml.SafeDumper, value: _Flow) -> yaml.Node:
    return dumper.represent_mapping("tag:yaml.org,2002:map", dict(value), flow_style=True)


_Dumper.add_representer(str, _represent_str)
_Dumper.add_representer(_Flow, _represent_flow)


#: A row longer than this on one line is written as a block mapping instead.
FLOW_WIDTH = 120


def flow(row: dict) -> dict:
    """Mark a small mapping (a difference row) to be written on one line when it fits."""
    one_line = yaml.dump(_Flow(row), Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=10_000)
    return _Flow(row) if len(one_line.strip()) + 2 <= FLOW_WIDTH else dict(row)


def dump_mapping(data: dict, comments: list[str] | None = None) -> str:
    """YAML text of a mapping: the schema line, ``comments`` as ``#`` lines, then ``data``.

    Multi-line strings (signatures, code) become ``|`` block scalars. Raises ValueError if
    the text would not read back as ``data`` (it always should).
    """
    data = _tidy(data)
    body = yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=10_000, indent=2)
    head = [SCHEMA_LINE] + [f"# {line}".rstrip() for comment in comments or [] for line in comment.splitlines()]
    text = "\n".join(head) + "\n" + body
    if yaml.safe_load(text) != _plain(data):
        raise ValueError("the YAML written for this mapping does not read back the same")
    return text


def _tidy(value):
    """Strip trailing spaces from lines of multi-line strings so that ``|`` can show them."""
    if isinstance(value, _Flow):
        return _Flow({key: _tidy(item) for key, item in value.items()})
    if isinstance(value, dict):
        return {key: _tidy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_tidy(item) for item in value]
    if isinstance(value, str) and "\n" in value.rstrip("\n"):
        return "\n".join(line.rstrip() for line in value.rstrip("\n").split("\n")) + "\n"
    return value


def _plain(value):
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def mapping_path(source_api: str, mappings_dir: Path) -> Path:
    module, name = source_api.rsplit(".", 1)
    return Path(mappings_dir) / module / f"{name}.yaml"


def find_mapping_of(source_api: str, mappings_dir: Path) -> Path | None:
    """The file under ``mappings_dir`` whose ``source.api`` is ``source_api``, if any.

    Files that do not parse are matched on their text, so a broken file still counts.
    """
    root = Path(mappings_dir)
    if not root.is_dir():
        return None
    # '^[ \t]*', not '^\s*': from each of a run of blank lines '\s*' would rescan the rest of the run.
    pattern = re.compile(rf"^[ \t]*api:\s*['\"]?{re.escape(source_api)}['\"]?\s*$", re.MULTILINE)
    for file in sorted(p for p in root.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file()):
        try:
            text = read_mapping_text(file)
        except (OSError, ValueError):
            continue
        if source_api not in text:
            continue
        data = plain_data(text)  # bounded: any file in the folder may be hostile
        if data is None:
            if pattern.search(text):
                return file
            continue
        source = data.get("source") if isinstance(data, dict) else None
        if isinstance(source, dict) and source.get("api") == source_api:
            return file
    return None


# --------------------------------------------------------------------------- create


def create_mapping(source_api: str, target_api: str, mappings_dir: Path) -> Path:
    """Write ``mappings_dir/<module>/<Name>.yaml`` for the pair and return its path.

    Raises ``ScaffoldError`` when the file exists, when the source API is already mapped
    elsewhere, when either API does not exist in the installed framework, or when the
    two names do not belong to two different known frameworks.
    """
    mappings_dir = Path(mappings_dir)
    _check_names(source_api, target_api)
    path = mapping_path(source_api, mappings_dir)
    if path.exists():
        raise ScaffoldError(f"{path} already exists; edit it instead of creating it again")
    existing = find_mapping_of(source_api, mappings_dir)
    if existing is not None:
        raise ScaffoldError(f"{source_api} is already mapped in {existing} (one page per source API)")

    sides = {}
    for role, api in (("source", source_api), ("target", target_api)):
        try:
            obj = introspect.resolve(api)
        except ApiNotFound as error:
            raise ScaffoldError(str(error)) from None
        kind = introspect.kind_of(api, obj)
        sides[role] = _Side(api, kind, introspect.signature_of(api, kind))

    data, comments = _mapping_data(sides["source"], sides["target"])
    text = dump_mapping(data, comments)
    Mapping.model_validate(yaml.safe_load(text))  # a bug here must not leave a file behind
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with path.open("x", encoding="utf-8") as handle:
            handle.write(text)
    except FileExistsError:
        raise ScaffoldError(f"{path} already exists; edit it instead of creating it again") from None
    return path


def _check_names(source_api: str, target_api: str) -> None:
    known = ", ".join(sorted(FRAMEWORKS))
    for role, api in (("source", source_api), ("target", target_api)):
        if not re.fullmatch(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)+", api or ""):
            raise ScaffoldError(f"{role} API {api!r} is not a full dotted name such as torch.nn.L1Loss")
        if framework_of(api) is None:
            raise ScaffoldError(f"{role} API {api} belongs to no known framework ({known})")
    if framework_of(source_api) == framework_of(target_api):
        raise ScaffoldError(f"{source_api} and {target_api} belong to the same framework; "
                            "a mapping pairs APIs of two different frameworks")


@dataclass
class _Side:
    api: str
    kind: str
    signature: ApiSignature | None

    @property
    def framework(self) -> str:
        return framework_of(self.api).display

    @property
    def name(self) -> str:
        return self.api.rsplit(".", 1)[1]

    def signature_text(self) -> str:
        if self.signature is not None:
            return self.signature.text
        prefix = "class " if self.kind == "class" else ""
        return f"{prefix}{self.api}(...)"


def _mapping_data(source: _Side, target: _Side) -> tuple[dict, list[str]]:
    comments = [f"Scaffolded from the installed frameworks: replace every {TODO} with what you know."]
    rows, status = [], "parameters-differ"
    unreadable = [side for side in (source, target) if side.signature is None]
    for side in unreadable:
        version = framework_of(side.api).version or "?"
        comments.append(f"{TODO} the signature of {side.api} cannot be read from {side.framework} {version};")
        comments.append("      write `signature` and the `differences` rows by hand.")
    for side in (source, target):
        if side.signature is not None and side.signature.source != introspect.INSPECT:
            where = {introspect.DOCSTRING: "the signature its docstring documents",
                     introspect.OPERATOR: "its operator definition"}[side.signature.source]
            comments.append(f"The signature of {side.api} was read from {where} (a builtin or a wrapper).")
    if not unreadable:
        deprecated = introspect.deprecated_parameters(source.api)
        rows, status = difference_rows(source, target, deprecated)
    with ThreadPoolExecutor(max_workers=2) as pool:  # each side's trial run is a fresh interpreter
        source_code, target_code = pool.map(example_code, (source, target))
    data = {
        "source": {"api": source.api, "kind": source.kind, "signature": source.signature_text(),
                   "summary": f"{TODO} say what {source.api} does, in one or two sentences."},
        "target": {"api": target.api, "kind": target.kind, "signature": target.signature_text(),
                   "summary": f"{TODO} say how {target.api} compares with {source.api}."},
        "status": status,
        "differences": [flow(row) for row in rows],
        "examples": [{
            "note": f"{TODO} say what this example shows.",
            "source": source_code,
            "target": target_code,
        }],
    }
    if not rows:
        del data["differences"]
    return data, comments


# --------------------------------------------------------------------------- differences


def difference_rows(source: _Side, target: _Side, deprecated: set[str] = frozenset()) -> tuple[list[dict], str]:
    """Difference rows matched by name (then by position) and the status they suggest."""
    src, tgt = source.signature, target.signature
    if src.kind == "class" and tgt.kind == "class":
        groups = [("Parameters", src.parameters, tgt.parameters), ("Inputs", src.inputs, tgt.inputs)]
    else:
        groups = [("Parameters", _all_params(src), _all_params(tgt))]
    rows: list[dict] = []
    verdicts: list[str] = []  # per row: "same", "renamed" or "differs"
    for category, left, right in groups:
        for row, verdict in _match(category, left, right, source.framework, target.framework, deprecated):
            rows.append(row)
            verdicts.append(verdict)
    if all(verdict == "same" for verdict in verdicts) and source.name == target.name:
        status = "consistent"
    elif all(verdict in ("same", "renamed") for verdict in verdicts):
        status = "names-differ"
    else:
        status = "parameters-differ"
    return rows, status


def _all_params(signature: ApiSignature) -> list[Param]:
    return signature.parameters + (signature.inputs if signature.has_call else [])


def _match(category: str, left: list[Param], right: list[Param], left_name: str, right_name: str,
           deprecated: set[str]) -> list[tuple[dict, str]]:
    right_index = {param.name: index for index, param in enumerate(right)}
    partner: dict[int, int] = {}
    for index, param in enumerate(left):
        if param.name in right_index:
            partner[index] = right_index[param.name]
    taken = set(partner.values())
    by_position: set[int] = set()
    for index, param in enumerate(left):
        if (index not in partner and index < len(right) and index not in taken and not param.is_variadic
                and not right[index].is_variadic and param.name not in deprecated):
            partner[index] = index
            taken.add(index)
            by_position.add(index)
    what = "input" if category == "Inputs" else "parameter"
    result: list[tuple[dict, str]] = []
    emitted: set[int] = set()

    def right_only(upto: int) -> None:
        for j in range(upto):
            if j not in taken and j not in emitted:
                emitted.add(j)
                row = {"category": category, "target": right[j].display,
                       "note": f"{TODO} explain — only in {right_name}."}
                result.append((row, "differs"))

    for index, param in enumerate(left):
        if index not in partner:
            note = f"{TODO} explain — only in {left_name}."
            verdict = "differs"
            if param.name in deprecated:
                note = f"{TODO} explain — only in {left_name}, which documents it as deprecated."
                verdict = "same"  # deprecated parameters may be absent (see the status criteria)
            result.append(({"category": category, "source": param.display, "note": note}, verdict))
            continue
        j = partner[index]
        right_only(j)
        emitted.add(j)
        other = right[j]
        row = {"category": category, "source": param.display, "target": other.display}
        notes, verdict = [], "same"
        if index in by_position:
            notes.append(f"{TODO} confirm — paired by position: same {what}, different names?")
            verdict = "renamed"
        if not _same_default(param.default_repr, other.default_repr):
            if not notes:
                notes.append(TODO)
            notes.append(f"The defaults differ: {left_name} {_default_text(param)}, "
                         f"{right_name} {_default_text(other)}.")
            verdict = "differs"
        if notes:
            row["note"] = " ".join(notes) if notes[0] != TODO else f"{TODO} explain the effect. {notes[1]}"
        result.append((row, verdict))
    right_only(len(right))
    return result


def _default_text(param: Param) -> str:
    return f"{param.name}={param.default_repr}" if param.default_repr is not None else f"{param.name} (required)"


def _same_default(left: str | None, right: str | None) -> bool:
    if left == right:
        return True
    if left is None or right is None:
        return False
    try:
        import ast

        return ast.literal_eval(left) == ast.literal_eval(right)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return False


# --------------------------------------------------------------------------- examples


def example_code(side: _Side) -> str:
    """The most useful snippet that runs in a fresh interpreter: a call on sample tensors,
    else constructing the class, else printing the API object."""
    root = side.api.split(".", 1)[0]
    module = introspect.module_of(side.api)
    bodies = [body for body in (_call_body(side), _construct_body(side), _reference_body(side)) if body]
    import_line, index = _first_that_runs(root, module, [body for _, body in bodies])
    needs_numpy, body = bodies[index]
    head = (["import numpy as np"] if needs_numpy else []) + [import_line]
    lines = [f"# {TODO} replace with an example that shows the difference."] + head + [""] + body
    return "\n".join(lines) + "\n"


def _tensor(root: str, sample: str) -> str:
    if root == "torch":
        return f"torch.tensor(np.array({sample}, dtype=np.float32))"
    return f"mindspore.Tensor(np.array({sample}, dtype=np.float32))"


def _arguments(root: str, params: list[Param], used: set[str]) -> tuple[list[str], list[str]] | None:
    """(assignment lines, call arguments) for the required parameters; None if it cannot tell."""
    lines, args = [], []
    samples = iter(_SAMPLES * 4)
    for param in params:
        if param.is_variadic or not param.required:
            continue
        name = _variable(param.name, used)
        value = _INT_NAMES.get(param.name) or _tensor(root, next(samples, _SAMPLES[0]))
        lines.append(f"{name} = {value}")
        args.append(f"{param.name}={name}" if param.kind == introspect.KEYWORD_ONLY else name)
    if any(param.kind == introspect.VAR_POSITIONAL for param in params) and not args:
        name = _variable("x", used)
        lines.append(f"{name} = {_tensor(root, _SAMPLES[0])}")
        args.append(name)
    return lines, args


def _variable(name: str, used: set[str]) -> str:
    candidate = name if name.isidentifier() and not keyword.iskeyword(name) else f"{name}_"
    while candidate in used:
        candidate += "_"
    used.add(candidate)
    return candidate


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).lower()


def _call_body(side: _Side) -> tuple[bool, list[str]] | None:
    signature, root = side.signature, side.api.split(".", 1)[0]
    if signature is None:
        return None
    used = {"np", "torch", "mindspore", "output"}
    if side.kind == "class":
        if not signature.has_call or any(param.required for param in signature.parameters):
            return None
        instance = _variable(_snake(side.name), used)
        lines, args = _arguments(root, signature.inputs, used)
        body = lines + [f"{instance} = {side.api}()", f"output = {instance}({', '.join(args)})"]
    elif side.kind == "method":
        owner = side.api.rsplit(".", 2)[-2]
        if not owner.endswith("Tensor"):
            return None
        self_name = _variable("x", used)
        lines, args = _arguments(root, signature.parameters, used)
        body = [f"{self_name} = {_tensor(root, _SAMPLES[0])}"] + lines
        body.append(f"output = {self_name}.{side.name}({', '.join(args)})")
    else:
        lines, args = _arguments(root, signature.parameters, used)
        body = lines + [f"output = {side.api}({', '.join(args)})"]
    return True, body + ["print(output)"]


def _construct_body(side: _Side) -> tuple[bool, list[str]] | None:
    signature = side.signature
    if side.kind != "class" or signature is None or any(param.required for param in signature.parameters):
        return None
    instance = _snake(side.name)
    if instance in {"np", "torch", "mindspore"} or keyword.iskeyword(instance):
        instance += "_"
    return False, [f"{instance} = {side.api}()", f"print({instance})"]


def _reference_body(side: _Side) -> tuple[bool, list[str]]:
    return False, [f"print({side.api})"]


_TRIAL = r"""
import contextlib, importlib, io, json, sys
job = json.loads(sys.stdin.read())
importlib.import_module(job["root"])
# Prefer `import torch`; name the API's module only when importing the package leaves it out.
line = "import " + (job["root"] if job["module"] in sys.modules else job["module"])
sys.stdout.write("\n@@IMPORT@@ %s\n" % line)
for index, body in enumerate(job["bodies"]):
    code = "\n".join(["import numpy as np", line] + body) + "\n"
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            exec(compile(code, "<candidate %d>" % index, "exec"), {"__name__": "__main__"})
    except BaseException:
        continue
    sys.stdout.write("\n@@RUNS@@ %d\n" % index)
    break
"""


def _first_that_runs(root: str, module: str, bodies: list[list[str]]) -> tuple[str, int]:
    """(import line, index of the first body that runs); the last body if no answer comes."""
    env = dict(os.environ, GLOG_v="3", PYTHONWARNINGS="ignore")
    job = json.dumps({"root": root, "module": module, "bodies": bodies})
    try:
        completed = subprocess.run([sys.executable, "-c", _TRIAL], input=job, text=True,
                                   capture_output=True, timeout=TRIAL_TIMEOUT, env=env)
        stdout = completed.stdout
    except (OSError, subprocess.SubprocessError):
        stdout = ""
    imports = re.findall(r"^@@IMPORT@@ (.+)$", stdout, re.MULTILINE)
    runs = re.findall(r"^@@RUNS@@ (\d+)$", stdout, re.MULTILINE)
    import_line = imports[-1] if imports else f"import {module}"
    return import_line, int(runs[-1]) if runs else len(bodies) - 1
