"""Numeric cross-check of what the two sides of an example printed.

``parse_values`` reads the numbers out of printed text, keeping array structure:

* torch: ``tensor([[1., 2.]], dtype=torch.float64)``, ``tensor(0.5000, grad_fn=<MeanBackward0>)``,
  ``tensor([], size=(0, 3))``, ``torch.Size([2, 3])``;
* MindSpore: ``Tensor(shape=[2, 3], dtype=Float32, value=\\n[[...]])``, and ``str()`` of a tensor,
  which prints like NumPy;
* NumPy: ``[[0.3 0.8]\\n [0.1 0.2]]``, ``array([1., 2.], dtype=float32)``, scalars;
* Python: ints, floats, ``nan``/``inf``, ``True``/``False`` (1 and 0), lists and tuples of these.

A bracketed group of numbers (nested to any depth, separated by commas or spaces) is one array; so
is a list or tuple of two or more 0-d tensors (``[tensor(1.), tensor(2.)]``, or MindSpore's
``[Tensor(shape=[], ...), ...]``), shape (n,), as ``numpy.array`` would make it; a group holding
anything else (``(tensor(1.), tensor([2., 3.]))``, ``('a', 1)``) is read element by element.
A ragged group is read as its rows. A summarised print (with ``...``) gives its visible numbers,
flattened. Numbers glued to letters (``float64``, ``MeanBackward0``) are names, not values.
MindSpore ``Parameter (name=..., shape=(2,), ...)`` reprs carry no values and are skipped.

``compare_outputs`` then pairs the values of both sides in order: shapes must match exactly and
values must satisfy ``numpy.isclose(source, target, rtol, atol + r_source + r_target)`` (NaN
equals NaN), where ``r`` is the rounding a side's print applied: PyTorch prints tensors with a
fixed number of decimals (4 by default), so ``tensor(0.1234)`` stands for any value within half
a unit of its last printed digit (5e-05), and agrees with MindSpore's ``0.12343871``. Values
printed outside a torch tensor (NumPy, MindSpore, Python: the shortest text that reads back
the same number) count as exact, and so do integers (``tensor([1., 2.])``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

import numpy as np

AGREE, DISAGREE, NOT_COMPARED = "agree", "disagree", "not compared"


@dataclass(frozen=True)
class Comparison:
    verdict: str  # "agree" | "disagree" | "not compared"
    detail: str

    def to_dict(self) -> dict:
        return {"verdict": self.verdict, "detail": self.detail}


# ---------------------------------------------------------------- parsing

_NUMBER = re.compile(
    r"(?<![\w.])[-+]?(?:(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?|nan|inf|True|False)(?![\w.])"
)
_TORCH = re.compile(r"(?<![\w.])tensor\(")
_MINDSPORE = re.compile(r"(?<![\w.])Tensor\(shape=")
_NUMPY = re.compile(r"(?<![\w.])array\(")
_SIZE = re.compile(r"(?<![\w.])torch\.Size\(")
_PARAMETER = re.compile(r"(?<![\w.])Parameter \(name=")
_ELLIPSIS = object()
_CLOSE = {"[": "]", "(": ")"}


class _Fail(Exception):
    pass


def _number(token: str) -> float:
    if token == "True":
        return 1.0
    if token == "False":
        return 0.0
    return float(token)


def _resolution(token: str) -> float:
    """Half a unit in the last printed digit of ``token``: ``0.1234`` -> 5e-05, ``1.2346e-05`` -> 5e-10."""
    mantissa, _, exponent = token.lower().partition("e")
    decimals = len(mantissa.partition(".")[2])
    if not decimals:
        return 0.0
    return 0.5 * 10.0 ** (int(exponent or 0) - decimals)


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.values: list = []
        self.resolutions: list[float] = []  # per value: the rounding its print applied (0: exact)
        self.rounded = False  # inside a torch tensor, whose print rounds to fixed decimals
        self.pending = 0.0  # the coarsest rounding among the numbers read for the value being built

    def number(self, token: str) -> float:
        if self.rounded:
            self.pending = max(self.pending, _resolution(token))
        return _number(token)

    def add(self, value) -> None:
        self.values.append(value)
        self.resolutions.append(self.pending)
        self.pending = 0.0

    def skip_space(self, pos: int, comma: bool = False) -> int:
        text = self.text
        while pos < len(text) and text[pos] in " \t\r\n":
            pos += 1
        if comma and pos < len(text) and text[pos] == ",":
            pos += 1
            while pos < len(text) and text[pos] in " \t\r\n":
                pos += 1
        return pos

    def group(self, pos: int):
        """A bracketed group of numbers at ``pos``: (nested list, position after it)."""
        text = self.text
        close = _CLOSE[text[pos]]
        pos = self.skip_space(pos + 1)
        items: list = []
        commas = 0
        while True:
            if pos >= len(text):
                raise _Fail
            char = text[pos]
            if char == close:
                pos += 1
                break
            if char in "[(":
                item, pos = self.group(pos)
            elif text.startswith("...", pos):
                item, pos = _ELLIPSIS, pos + 3
            else:
                match = _NUMBER.match(text, pos)
                if not match:
                    raise _Fail
                item, pos = self.number(match.group()), match.end()
            items.append(item)
            after = self.skip_space(pos)
            if after < len(text) and text[after] == ",":
                commas += 1
            pos = self.skip_space(pos, comma=True)
        if close == ")" and len(items) == 1 and commas == 0 and not isinstance(items[0], list):
            return items[0], pos  # "(0.5)" is a parenthesised number, not a tuple
        return items, pos

    def balanced_end(self, pos: int) -> int:
        """Position after the ``)`` closing the call whose arguments start at ``pos``."""
        depth = 1
        text = self.text
        while pos < len(text):
            char = text[pos]
            if char in "([{":
                depth += 1
            elif char in ")]}":
                depth -= 1
                if depth == 0:
                    return pos + 1
            pos += 1
        raise _Fail

    def data(self, pos: int):
        """A group or a single number at ``pos``."""
        pos = self.skip_space(pos)
        if pos < len(self.text) and self.text[pos] in "[(":
            return self.group(pos)
        match = _NUMBER.match(self.text, pos)
        if not match:
            raise _Fail
        return np.array(self.number(match.group())), match.end()

    def torch_tensor(self, pos: int) -> int:
        self.rounded = True
        try:
            data, after = self.data(pos)
        finally:
            self.rounded = False
        end = self.balanced_end(after)
        value = _to_value(data)
        size = re.search(r"size=\(([\d, ]*)\)", self.text[after:end])
        if size and isinstance(value, np.ndarray) and value.size == 0:
            value = value.reshape(tuple(int(part) for part in size.group(1).replace(" ", "").split(",") if part))
        self.add(value)
        return end

    def tensor(self, pos: int) -> int | None:
        """Parse a torch or MindSpore tensor at ``pos``; None when there is none."""
        for pattern, method in ((_TORCH, self.torch_tensor), (_MINDSPORE, self.mindspore_tensor)):
            match = pattern.match(self.text, pos)
            if match:
                return method(match.end())
        return None

    def tensor_list(self, pos: int) -> int:
        """A list or tuple of two or more 0-d tensors at ``pos``, as one array of shape (n,)."""
        close = _CLOSE[self.text[pos]]
        saved = len(self.values)
        pos = self.skip_space(pos + 1)
        while pos < len(self.text) and self.text[pos] != close:
            end = self.tensor(pos)
            if end is None:
                raise _Fail
            pos = self.skip_space(end, comma=True)
        scalars = self.values[saved:]
        if pos >= len(self.text) or len(scalars) < 2 or any(np.ndim(value) for value in scalars):
            raise _Fail
        resolution = max(self.resolutions[saved:])
        del self.values[saved:], self.resolutions[saved:]
        self.pending = resolution
        self.add(np.array([float(value) for value in scalars]))
        return pos + 1

    def mindspore_tensor(self, pos: int) -> int:
        shape_data, after = self.group(self.skip_space(pos))
        marker = self.text.find("value=", after)
        if marker < 0 or self.text[after:marker].count(")"):
            raise _Fail
        data, after = self.data(marker + len("value="))
        end = self.balanced_end(after)
        value = _to_value(data)
        if isinstance(shape_data, list) and all(isinstance(part, float) for part in shape_data):
            shape = tuple(int(part) for part in shape_data)
            if isinstance(value, np.ndarray) and value.size == int(np.prod(shape)) and not _summarised(data):
                value = value.reshape(shape)
        self.add(value)
        return end

    def call_with_group(self, pos: int) -> int:
        data, after = self.group(self.skip_space(pos))
        end = self.balanced_end(after)
        self.add(_to_value(data))
        return end

    def tensors_or_inside(self, pos: int) -> int:
        """After a group that is not all numbers: a list of 0-d tensors, or else its inside, item by item."""
        saved = len(self.values)
        try:
            return self.tensor_list(pos)
        except _Fail:
            del self.values[saved:], self.resolutions[saved:]
            self.pending, self.rounded = 0.0, False
            return pos + 1

    def parse(self) -> list:
        text = self.text
        pos = 0
        while pos < len(text):
            char = text[pos]
            handled = False
            for pattern, method in ((_TORCH, self.torch_tensor), (_MINDSPORE, self.mindspore_tensor),
                                    (_NUMPY, self.call_with_group), (_SIZE, self.call_with_group)):
                match = pattern.match(text, pos)
                if match:
                    saved = len(self.values)
                    try:
                        pos = method(match.end())
                        handled = True
                    except _Fail:
                        del self.values[saved:], self.resolutions[saved:]
                        self.pending, self.rounded = 0.0, False
                    break
            if handled:
                continue
            match = _PARAMETER.match(text, pos)
            if match:
                try:
                    pos = self.balanced_end(match.end())
                    continue
                except _Fail:
                    pass
            if char == "(" and pos and (text[pos - 1].isalnum() or text[pos - 1] in "_."):
                pos += 1  # a call such as "Linear(" or "Sequential()": read its arguments one by one
                continue
            if char in "[(":
                try:
                    data, end = self.group(pos)
                    value = _to_value(data)
                except _Fail:
                    pos = self.tensors_or_inside(pos)
                    continue
                self.add(float(value) if value.ndim == 0 else value)
                pos = end
                continue
            match = _NUMBER.match(text, pos)
            if match:
                self.add(self.number(match.group()))
                pos = match.end()
                continue
            pos += 1
        return self.values


def _summarised(data) -> bool:
    if data is _ELLIPSIS:
        return True
    return isinstance(data, list) and any(_summarised(item) for item in data)


def _flatten(data) -> list[float]:
    if isinstance(data, list):
        return [number for item in data for number in _flatten(item)]
    if data is _ELLIPSIS:
        return []
    return [float(data)]


def _to_value(data):
    """Nested lists of numbers as an array; raises _Fail for ragged data."""
    if isinstance(data, np.ndarray):
        return data
    if not isinstance(data, list):
        return np.array(float(data)) if data is not _ELLIPSIS else np.array([])
    if _summarised(data):
        return np.array(_flatten(data), dtype=float)
    try:
        array = np.array(data, dtype=float)
    except ValueError:
        raise _Fail from None
    return array


def parse_values(text: str) -> list:
    """The numbers printed in ``text``: arrays for groups and tensors, floats for bare numbers."""
    return _Parser(text).parse()


def parse_printed(text: str) -> list[tuple[object, float]]:
    """(value, rounding of its print) for each value in ``text`` (see the module docstring)."""
    parser = _Parser(text)
    values = parser.parse()
    return list(zip(values, parser.resolutions))


# ---------------------------------------------------------------- comparing


def _shape(value) -> tuple:
    return tuple(np.shape(value))


def _show(number: float) -> str:
    number = float(number)
    return repr(int(number)) if number.is_integer() and abs(number) < 1e16 else repr(number)


def _values_of(outputs) -> list[tuple[int | None, object, float]]:
    """(line or None, value, rounding) for every value in ``outputs``: a string, a list of strings,
    or a list of objects with ``line`` and ``text`` (``StatementOutput``)."""
    if isinstance(outputs, str):
        return [(None, value, rounding) for value, rounding in parse_printed(outputs)]
    triples = []
    for output in outputs:
        if isinstance(output, str):
            triples.extend((None, value, rounding) for value, rounding in parse_printed(output))
        else:
            triples.extend((output.line, value, rounding) for value, rounding in parse_printed(output.text))
    return triples


def compare_outputs(source_text: str | Sequence, target_text: str | Sequence,
                    rtol: float = 1e-5, atol: float = 1e-6) -> Comparison:
    """Compare the values both sides printed, in order.

    Each side is the printed text, or the list of per-statement outputs (then the detail names
    the lines that printed the values that differ).
    """
    source = _values_of(source_text)
    target = _values_of(target_text)
    if not source and not target:
        return Comparison(NOT_COMPARED, "neither side printed numbers")
    if not source or not target:
        side = "source" if not source else "target"
        return Comparison(NOT_COMPARED, f"the {side} printed no numbers")
    if len(source) != len(target):
        return Comparison(NOT_COMPARED, f"the source printed {len(source)} values, the target {len(target)}")
    for number, ((source_line, a, a_rounding), (target_line, b, b_rounding)) in enumerate(zip(source, target), start=1):
        where = f"printed value {number}"
        if source_line is not None and target_line is not None:
            where += f" (source line {source_line}, target line {target_line})"
        if _shape(a) != _shape(b):
            return Comparison(DISAGREE, f"{where}: shape {_shape(a)} vs {_shape(b)}")
        a_array, b_array = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
        close = np.isclose(a_array, b_array, rtol=rtol, atol=atol + a_rounding + b_rounding, equal_nan=True)
        if not np.all(close):
            index = tuple(int(i) for i in np.argwhere(~close)[0]) if close.ndim else ()
            at = f" at index {index if len(index) != 1 else index[0]}" if index else ""
            return Comparison(DISAGREE, f"{where}{at}: {_show(a_array[index])} vs {_show(b_array[index])}")
    count = len(source)
    what = "1 printed value agrees" if count == 1 else f"{count} printed values agree"
    return Comparison(AGREE, f"{what} (rtol={rtol:g}, atol={atol:g})")


def compare_results(source, target, rtol: float = 1e-5, atol: float = 1e-6) -> Comparison:
    """Compare two ``SnippetResult``-like objects (``status``, ``outputs``, ``error_type``)."""
    for side, result in (("source", source), ("target", target)):
        if result is None:
            return Comparison(NOT_COMPARED, f"the {side} did not run")
        if result.status != "ok":
            what = result.error_type or result.status
            return Comparison(NOT_COMPARED, f"the {side} failed ({what})")
        if any(getattr(output, "truncated", False) for output in result.outputs):
            return Comparison(NOT_COMPARED, f"the {side}'s output was truncated")
    return compare_outputs(source.outputs, target.outputs, rtol=rtol, atol=atol)
