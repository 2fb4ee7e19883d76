"""generator.introspect: resolving dotted names and reading signatures from the installed frameworks."""

from __future__ import annotations

import enum
import subprocess
import sys

import pytest

from generator import introspect
from generator.introspect import (
    KEYWORD_ONLY,
    VAR_KEYWORD,
    VAR_POSITIONAL,
    ApiNotFound,
    Param,
    format_signature,
    parse_signature,
    resolve,
    signature_of,
)
from generator.schema import Kind


def test_importing_the_module_imports_no_framework():
    code = "import sys, generator.introspect; print('torch' in sys.modules, 'mindspore' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["False", "False"]


def test_resolve_finds_classes_functions_and_methods():
    import mindspore
    import torch

    assert resolve("torch.nn.L1Loss") is torch.nn.L1Loss
    assert resolve("torch.nn.functional.l1_loss") is torch.nn.functional.l1_loss
    assert resolve("mindspore.ops.l1_loss") is mindspore.ops.l1_loss
    assert resolve("mindspore.Tensor.flip") is mindspore.Tensor.flip
    assert introspect.module_of("torch.nn.functional.l1_loss") == "torch.nn.functional"
    assert introspect.module_of("torch.Tensor.flip") == "torch"
    assert introspect.exists("mindspore.nn.HuberLoss")
    assert not introspect.exists("mindspore.nn.HuberLos")


def test_missing_api_names_the_version_and_the_closest_name():
    with pytest.raises(ApiNotFound) as caught:
        resolve("mindspore.nn.HuberLos")
    error = caught.value
    assert isinstance(error, LookupError)
    assert error.api == "mindspore.nn.HuberLos"
    assert error.suggestions == ["mindspore.nn.HuberLoss"]
    assert str(error) == "mindspore.nn.HuberLos does not exist in mindspore 2.10.0; did you mean mindspore.nn.HuberLoss?"


def test_missing_module_in_the_middle_suggests_the_module():
    with pytest.raises(ApiNotFound) as caught:
        resolve("torch.nn.functionl.l1_loss")
    assert caught.value.suggestions[0] == "torch.nn.functional"
    assert "did you mean torch.nn.functional" in str(caught.value)


def test_missing_method_suggests_methods_of_the_class():
    with pytest.raises(ApiNotFound) as caught:
        resolve("torch.Tensor.abss")
    assert "torch.Tensor.abs" in caught.value.suggestions
    assert " or " in str(caught.value)


def test_missing_package_and_bad_names():
    with pytest.raises(ApiNotFound, match="no_such_package_xyz is not installed"):
        resolve("no_such_package_xyz.thing")
    with pytest.raises(ApiNotFound, match="not a dotted Python name"):
        resolve("torch.1bad")
    with pytest.raises(ApiNotFound) as caught:
        resolve("torch.nn.L1Loss.zzzzzz")
    assert caught.value.suggestions == []
    assert "did you mean" not in str(caught.value)


def test_class_signature_reads_constructor_and_forward():
    signature = signature_of("torch.nn.L1Loss", "class")
    assert signature.kind == "class"
    assert [(p.name, p.default_repr) for p in signature.parameters] == [
        ("size_average", "None"), ("reduce", "None"), ("reduction", "'mean'")]
    assert [p.name for p in signature.inputs] == ["input", "target"]
    assert signature.text == "class torch.nn.L1Loss(size_average=None, reduce=None, reduction='mean')(input, target)"


def test_mindspore_class_inputs_come_from_construct():
    signature = signature_of("mindspore.nn.HuberLoss", Kind.class_)
    assert [(p.name, p.default_repr) for p in signature.parameters] == [("reduction", "'mean'"), ("delta", "1.0")]
    assert [p.name for p in signature.inputs] == ["logits", "labels"]


def test_long_signature_is_one_parameter_a_line():
    text = signature_of("torch.nn.CosineEmbeddingLoss").text
    lines = text.splitlines()
    assert lines[0] == "class torch.nn.CosineEmbeddingLoss("
    assert lines[1:5] == ["    margin=0.0,", "    size_average=None,", "    reduce=None,", "    reduction='mean'"]
    assert lines[5].startswith(")(") and lines[5].endswith(")")
    parsed = parse_signature(text)
    assert parsed.is_class and parsed.api == "torch.nn.CosineEmbeddingLoss"
    assert [p.name for p in parsed.parameters] == ["margin", "size_average", "reduce", "reduction"]


def test_function_signature():
    signature = signature_of("mindspore.ops.l1_loss")
    assert signature.kind == "function"
    assert [(p.name, p.default_repr) for p in signature.parameters] == [
        ("input", None), ("target", None), ("reduction", "'mean'")]
    assert signature.inputs == []
    assert signature.text == "mindspore.ops.l1_loss(input, target, reduction='mean')"


def test_method_signature_drops_self():
    signature = signature_of("torch.nn.Module.zero_grad")
    assert signature.kind == "method"
    assert [(p.name, p.default_repr) for p in signature.parameters] == [("set_to_none", "True")]
    assert signature_of("mindspore.Tensor.flip", "method").text == "mindspore.Tensor.flip(dims)"


def test_a_builtin_is_read_from_its_documented_signature():
    signature = signature_of("torch.abs")
    assert signature.source == introspect.DOCSTRING
    assert not signature.defaults_complete  # PyTorch writes `out: Optional[Tensor]` without its default
    assert [(p.name, p.kind) for p in signature.parameters] == [("input", "POSITIONAL_OR_KEYWORD"), ("out", KEYWORD_ONLY)]
    assert signature.text == "torch.abs(input, *, out)"
    tensor_method = signature_of("torch.Tensor.view", "method")
    assert (tensor_method.source, tensor_method.parameters) == (introspect.DOCSTRING, [Param("shape", None, VAR_POSITIONAL)])


def test_a_generic_wrapper_is_read_from_its_documented_signature():
    signature = signature_of("mindspore.mint.nn.functional.gelu")  # def gelu(*args, **kwargs)
    assert signature.source == introspect.DOCSTRING
    assert signature.parameters == [Param("input"), Param("approximate", "'none'", KEYWORD_ONLY)]


def test_documented_signature_reads_only_a_leading_line_naming_the_object():
    def gelu():
        """gelu(input, *, approximate='none') -> Tensor

        relu(x) -> Tensor is not read: it follows a blank line."""

    def other():
        """Applies gelu(input)."""

    assert introspect.documented_signature(gelu, "gelu") == [Param("input"), Param("approximate", "'none'", KEYWORD_ONLY)]
    assert introspect.documented_signature(gelu, "relu") is None
    assert introspect.documented_signature(other, "other") is None


def test_torch_builtins_without_docstring_are_read_from_the_native_schema():
    import torch

    schema = "aten::gelu(Tensor self, *, str approximate=\"none\") -> Tensor"
    assert introspect.parse_schema_arguments(schema) == [Param("self"), Param("approximate", "'none'", KEYWORD_ONLY)]
    read = introspect._torch_operator("cat", is_method=False)
    assert read.source == introspect.OPERATOR
    assert read.parameters == [Param("tensors"), Param("dim", "0")]
    method = introspect._torch_operator("gelu", is_method=True)
    assert method.parameters == [Param("approximate", "'none'", KEYWORD_ONLY)]  # self is the tensor


def test_mindspore_operator_definitions_are_a_source():
    read = introspect._mindspore_operator("abs", is_method=False)
    assert read.source == introspect.OPERATOR and [p.name for p in read.parameters] == ["input"]
    assert introspect._mindspore_operator("no_such_operator_anywhere", is_method=False) is None


def test_a_layer_that_keeps_the_module_constructor_takes_no_arguments():
    import torch

    assert signature_of("torch.nn.Tanh").parameters == []
    with pytest.raises(TypeError):
        torch.nn.Tanh(1)


def test_pybind_classes_without_constructor_are_not_constructible():
    import torch

    assert not introspect.constructible(torch.AliasDb)
    with pytest.raises(TypeError, match="No constructor defined"):
        torch.AliasDb()
    assert introspect.constructible(torch.nn.Linear)


def test_signature_coverage_counts_sources():
    coverage = introspect.signature_coverage("torch.optim")
    assert coverage.total == coverage.readable + len(coverage.unreadable)
    assert coverage.by_source[introspect.INSPECT] >= 1


def test_variadic_parameters_are_kept_with_their_kind():
    signature = signature_of("torch.nn.Sequential")
    assert signature.parameters == [Param("args", None, VAR_POSITIONAL)]
    assert signature.text == "class torch.nn.Sequential(*args)(input)"


def test_keyword_only_parameters_get_a_star():
    signature = signature_of("mindspore.ops.sum")
    assert signature.parameters[-1] == Param("dtype", "None", KEYWORD_ONLY)
    assert "keepdim=False, *, dtype=None" in signature.text


def test_class_without_call_method_has_no_inputs_part():
    signature = signature_of("torch.optim.SGD")
    assert not signature.has_call and signature.inputs == []
    assert not signature.text.rstrip().endswith(")(")
    assert signature.parameters[0].name == "params" and signature.parameters[0].required


def test_unknown_kind_is_an_error():
    with pytest.raises(ValueError):
        signature_of("torch.nn.L1Loss", "module")


def test_deprecated_parameters_come_from_the_docstring():
    assert introspect.deprecated_parameters("torch.nn.L1Loss") == {"size_average", "reduce"}
    assert introspect.deprecated_parameters("torch.nn.HuberLoss") == set()


def test_default_repr_is_readable():
    class Colour(enum.Enum):
        RED = 1

    assert introspect.default_repr(Colour.RED) == "Colour.RED"
    assert introspect.default_repr("mean") == "'mean'"
    assert introspect.default_repr(len) == "len"
    assert introspect.default_repr(object()) == "object(...)"


def test_format_and_parse_agree():
    params = [Param("x"), Param("args", None, VAR_POSITIONAL), Param("k", "1", KEYWORD_ONLY),
              Param("kwargs", None, VAR_KEYWORD)]
    text = format_signature("mindspore.ops.thing", "function", params)
    assert text == "mindspore.ops.thing(x, *args, k=1, **kwargs)"
    parsed = parse_signature(text + " -> Tensor")
    assert parsed.parameters == params and parsed.inputs is None and not parsed.is_class


def test_parse_signature_of_page_text():
    parsed = parse_signature("class mindspore.nn.Dense(\n    in_channels,\n    weight_init=None,\n"
                             "    dtype=mstype.float32\n)(x) -> Tensor")
    assert [(p.name, p.default_repr) for p in parsed.parameters] == [
        ("in_channels", None), ("weight_init", "None"), ("dtype", "mstype.float32")]
    assert [p.name for p in parsed.inputs] == ["x"]
    assert parse_signature("not a signature") is None
    assert parse_signature("torch.f(a, b='x)'") is None  # unbalanced: no guess


def test_a_kind_that_does_not_fit_is_read_for_what_the_object_is():
    signature = signature_of("mindspore.ops.l1_loss", "class")
    assert signature.kind == "function" and signature.text == "mindspore.ops.l1_loss(input, target, reduction='mean')"


def test_signature_hidden_by_a_decorator_without_wraps_is_found():
    # mindspore.nn.SGD.__init__ is wrapped by opt_init_args_register, which hides the signature.
    signature = introspect.signature_of("mindspore.nn.SGD", "class")
    names = [param.name for param in signature.parameters]
    assert names[:3] == ["params", "learning_rate", "momentum"]
    assert "nesterov" in names and "args" not in names


@pytest.mark.parametrize("framework", ["torch", "mindspore"])
def test_most_public_callables_have_a_checkable_signature(framework):
    rows = introspect.framework_coverage(framework)
    readable, total = sum(row.readable for row in rows), sum(row.total for row in rows)
    assert total > 1000 and readable / total >= 0.95, [(row.namespace, row.unreadable) for row in rows]


def test_constructors_hidden_behind_new_overloads_or_decorators_are_read():
    # NLLLoss2d: a deprecation decorator gives the class a (*args, **kwargs) __new__
    assert [p.name for p in signature_of("torch.nn.NLLLoss2d").parameters] == [
        "weight", "size_average", "ignore_index", "reduce", "reduction"]
    # LSTM: the named form comes from its typing.overload declarations
    assert [p.name for p in signature_of("torch.nn.LSTM").parameters][:3] == ["input_size", "hidden_size", "num_layers"]
    # MindSpore's optimizer decorator without functools.wraps, once (Adam) or twice (LazyAdam)
    assert signature_of("mindspore.nn.Adam").parameters[0].name == "params"
    assert [p.name for p in signature_of("mindspore.nn.LazyAdam").parameters][:2] == ["params", "learning_rate"]


def test_a_constructor_that_really_takes_anything_is_its_signature():
    identity = signature_of("torch.nn.Identity")
    assert [p.display for p in identity.parameters] == ["*args", "**kwargs"]
    assert [p.display for p in signature_of("torch.nn.Container").parameters] == ["**kwargs"]


def test_a_generic_wrapper_is_still_not_a_signature():
    class Hidden:
        pass

    def wrap(function):
        def wrapper(*args, **kwargs):
            return function(*args, **kwargs)
        return wrapper

    Hidden.__init__ = wrap(lambda self, size: None)
    assert introspect._constructor_params(Hidden) is None


def test_a_constructor_that_passes_its_arguments_to_the_base_class_has_the_bases_parameters():
    lstm = signature_of("mindspore.nn.LSTM")  # __init__(self, *args, **kwargs): super().__init__('LSTM', *args, **kwargs)
    assert [p.name for p in lstm.parameters][:3] == ["input_size", "hidden_size", "num_layers"]
    assert "mode" not in [p.name for p in lstm.parameters]
    rnn = signature_of("mindspore.nn.RNN")  # also reads kwargs['nonlinearity']
    assert rnn.parameters[-1].name == "nonlinearity" and not rnn.defaults_complete
