"""The numeric cross-check: parsing printed values and comparing them (no frameworks needed)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from generator.compare import Comparison, compare_outputs, compare_results, parse_values
from generator.results import SnippetResult, StatementOutput


def shapes_and_values(text: str) -> list[tuple[tuple, list]]:
    return [(tuple(np.shape(value)), np.asarray(value, dtype=float).tolist()) for value in parse_values(text)]


# ---------------------------------------------------------------- parsing


@pytest.mark.parametrize("text, expected", [
    # torch
    ("tensor([1., 2., 3.])", [((3,), [1.0, 2.0, 3.0])]),
    ("tensor(0.5000, grad_fn=<MeanBackward0>)", [((), 0.5)]),
    ("tensor([[1., 2.]], dtype=torch.float64)", [((1, 2), [[1.0, 2.0]])]),
    ("tensor([ True, False])", [((2,), [1.0, 0.0])]),
    ("tensor([1.0000e-05, 2.5000e+03], requires_grad=True)", [((2,), [1e-05, 2500.0])]),
    ("tensor([], size=(0, 3))", [((0, 3), [])]),
    ("tensor([[-1, 2],\n        [ 3, -4]])", [((2, 2), [[-1.0, 2.0], [3.0, -4.0]])]),
    ("torch.Size([2, 3])", [((2,), [2.0, 3.0])]),
    ("tensor(3)", [((), 3.0)]),
    # numpy
    ("[[0.3 0.8]]", [((1, 2), [[0.3, 0.8]])]),
    ("[[ 1.  2.]\n [-3.  4.]]", [((2, 2), [[1.0, 2.0], [-3.0, 4.0]])]),
    ("0.00034258311711488076", [((), 0.00034258311711488076)]),
    ("array([1., 2.], dtype=float32)", [((2,), [1.0, 2.0])]),
    ("[1.e-05 2.e+00]", [((2,), [1e-05, 2.0])]),
    # MindSpore
    ("0.0003425479", [((), 0.0003425479)]),
    ("Tensor(shape=[2, 3], dtype=Float32, value=\n[[ 1.00000000e+00,  2.00000000e+00,  3.00000000e+00],\n"
     " [ 4.00000000e+00,  5.00000000e+00,  6.00000000e+00]])",
     [((2, 3), [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])]),
    ("Tensor(shape=[], dtype=Float32, value= 0.5)", [((), 0.5)]),
    ("Tensor(shape=[2], dtype=Bool, value= [ True, False])", [((2,), [1.0, 0.0])]),
    # Python
    ("(2, 3)", [((2,), [2.0, 3.0])]),
    ("[1, 2.5, -3]", [((3,), [1.0, 2.5, -3.0])]),
    ("(1,)", [((1,), [1.0])]),
    ("True False", [((), 1.0), ((), 0.0)]),
    ("loss: 0.25, accuracy: 1", [((), 0.25), ((), 1.0)]),
])
def test_parse_formats(text, expected):
    assert shapes_and_values(text) == expected


def test_scalars_are_floats_and_groups_are_arrays():
    values = parse_values("0.5 [1 2]")
    assert isinstance(values[0], float)
    assert isinstance(values[1], np.ndarray)


def test_names_with_digits_are_not_values():
    assert parse_values("dtype=torch.float64 grad_fn=<MeanBackward0> Float32 int8 version 2.10.0") == []


def test_tuples_and_lists_of_tensors_give_one_value_each():
    assert shapes_and_values("(tensor(1.), tensor([2., 3.]))") == [((), 1.0), ((2,), [2.0, 3.0])]
    ms = "(Tensor(shape=[], dtype=Float32, value= 1), Tensor(shape=[2], dtype=Float32, value= [ 2.00000000e+00,  3.00000000e+00]))"
    assert shapes_and_values(ms) == [((), 1.0), ((2,), [2.0, 3.0])]


def test_ragged_lists_are_read_row_by_row():
    assert shapes_and_values("[[1, 2], [3]]") == [((2,), [1.0, 2.0]), ((1,), [3.0])]


def test_summarised_prints_give_their_visible_numbers():
    assert shapes_and_values("tensor([0, 1, 2, ..., 7, 8, 9])") == [((6,), [0.0, 1.0, 2.0, 7.0, 8.0, 9.0])]
    assert shapes_and_values("[0 1 2 ... 7 8 9]") == [((6,), [0.0, 1.0, 2.0, 7.0, 8.0, 9.0])]


def test_nan_and_inf():
    values = parse_values("tensor([nan, inf, -inf])")
    assert np.isnan(values[0][0]) and values[0][1] == math.inf and values[0][2] == -math.inf


def test_parameter_reprs_and_calls_carry_no_values():
    assert parse_values("Parameter (name=weight, shape=(2, 3), dtype=Float32, requires_grad=True)") == []
    assert parse_values("Sequential()") == []


def test_numbers_are_read_exactly():
    assert parse_values("0.30000000000000004") == [0.30000000000000004]


# ---------------------------------------------------------------- comparing


def test_torch_and_mindspore_prints_agree():
    torch_text = "tensor([[0.1000, 0.2000],\n        [0.3000, 0.4000]])"
    ms_text = "[[0.1 0.2]\n [0.3 0.4]]"
    result = compare_outputs(torch_text, ms_text)
    assert result == Comparison("agree", "1 printed value agrees (rtol=1e-05, atol=1e-06)")


def test_shape_mismatch_is_a_disagreement():
    result = compare_outputs("tensor([[1., 2., 3.], [4., 5., 6.]])", "[[1. 2.]\n [3. 4.]\n [5. 6.]]")
    assert result.verdict == "disagree"
    assert result.detail == "printed value 1: shape (2, 3) vs (3, 2)"


def test_value_mismatch_names_the_value_and_index():
    result = compare_outputs("tensor([0.5000, 0.6000])", "[0.5 0.7]")
    assert result.verdict == "disagree"
    assert result.detail == "printed value 1 at index 1: 0.6 vs 0.7"


def test_scalar_mismatch():
    assert compare_outputs("0.5", "0.6").detail == "printed value 1: 0.5 vs 0.6"


def test_issue_example_float64_vs_float32():
    # torch (float64 via numpy) vs MindSpore (float32): |diff| = 3.5e-8, within atol 1e-6 + rtol * |b|.
    source, target = "0.00034258311711488076", "0.0003425479"
    assert compare_outputs(source, target).verdict == "agree"
    # Relatively they differ by about 1e-4: with no absolute tolerance, rtol 1e-5 says no, 1e-3 says yes.
    assert compare_outputs(source, target, rtol=1e-5, atol=0).verdict == "disagree"
    assert compare_outputs(source, target, rtol=1e-3, atol=0).verdict == "agree"


def test_tolerance_is_used():
    assert compare_outputs("1.0", "1.001").verdict == "disagree"
    assert compare_outputs("1.0", "1.001", rtol=1e-2).verdict == "agree"
    assert compare_outputs("0.0", "1e-7").verdict == "agree"  # within atol


def test_nan_equals_nan():
    assert compare_outputs("tensor([nan, 1.])", "[nan  1.]").verdict == "agree"


def test_not_compared_cases():
    assert compare_outputs("hello", "world") == Comparison("not compared", "neither side printed numbers")
    assert compare_outputs("1.0", "done") == Comparison("not compared", "the target printed no numbers")
    different = compare_outputs("1.0 2.0", "1.0")
    assert different.verdict == "not compared" and "2 values" in different.detail


def test_statement_outputs_in_order_with_lines():
    source = [StatementOutput(3, "tensor(1.)"), StatementOutput(5, "tensor([2., 3.])")]
    target = [StatementOutput(4, "1.0"), StatementOutput(7, "[2. 4.]")]
    result = compare_outputs(source, target)
    assert result.verdict == "disagree"
    assert result.detail == "printed value 2 (source line 5, target line 7) at index 1: 3 vs 4"


def _result(status="ok", outputs=(), error_type=None):
    return SnippetResult(status, list(outputs), "", error_type, None, None, 0.0, "1", "cpu", "cpu")


def test_compare_results_needs_both_sides_ok():
    ok = _result(outputs=[StatementOutput(1, "1.0")])
    failed = _result("error", error_type="RuntimeError")
    assert compare_results(ok, failed) == Comparison("not compared", "the target failed (RuntimeError)")
    assert compare_results(None, ok).verdict == "not compared"
    assert compare_results(ok, _result(outputs=[StatementOutput(2, "1.0000001")])).verdict == "agree"
    truncated = _result(outputs=[StatementOutput(1, "1.0", truncated=True)])
    assert compare_results(ok, truncated).verdict == "not compared"


def test_values_are_compared_at_the_precision_each_side_printed():
    # PyTorch rounds to 4 decimals; MindSpore prints the float32 value with 8
    assert compare_outputs("tensor(0.1234)", "0.12343871").verdict == "agree"
    assert compare_outputs("tensor([0.1234, 2.5000])", "[0.12343871 2.5]").verdict == "agree"
    disagree = compare_outputs("tensor(0.1234)", "0.12353871")
    assert disagree.verdict == "disagree" and "0.1234 vs 0.12353871" in disagree.detail
    # exact prints stay exact: integers, and numbers outside a torch tensor
    assert compare_outputs("tensor([1., 2.])", "[1.001 2.]").verdict == "disagree"
    assert compare_outputs("0.1234", "0.12343871").verdict == "disagree"
    assert compare_outputs("tensor(1.2346e-05)", "1.23456e-05").verdict == "agree"


def test_a_list_of_0d_tensors_is_one_value_of_shape_n():
    ms = "[Tensor(shape=[], dtype=Float32, value= 0.5), Tensor(shape=[], dtype=Float32, value= 1.5)]"
    assert shapes_and_values(ms) == [((2,), [0.5, 1.5])]
    assert shapes_and_values("(tensor(0.5000), tensor(1.5000))") == [((2,), [0.5, 1.5])]
    assert compare_outputs("tensor([0.5000, 1.5000])", ms).verdict == "agree"
    assert compare_outputs("tensor([0.5000, 1.6000])", ms).verdict == "disagree"
