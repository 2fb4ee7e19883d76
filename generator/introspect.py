"""Look APIs up in the installed frameworks and read their signatures.

Nothing here imports torch or MindSpore at module import time: ``resolve`` imports the one
package an API name needs, the first time it is asked for. Used by the scaffolder
(``python -m generator new``) and by the signature-drift check of ``verify``, so every function
works on any dotted name and never raises on an object whose signature cannot be read.

A signature is read from the first of these sources that gives one (``SOURCES``), and records
which one it came from (``ApiSignature.source``):

``inspect``      ``inspect.signature`` of the object itself, when it is real: not a builtin
                 without text signature, not a bare ``(*args, **kwargs)`` wrapper;
``docstring``    the signature the framework documents on the first line(s) of the docstring,
                 read the way Sphinx's ``autodoc_docstring_signature`` reads it
                 (``abs(input: Tensor, *, out: Optional[Tensor]) -> Tensor``);
``operator``     the framework's own operator definitions shipped in the installed package:
                 PyTorch's native function schemas (``torch._C._jit_get_schemas_for_operator``)
                 and MindSpore's generated operator functions
                 (``mindspore.ops.auto_generate.gen_ops_def``).

A docstring may leave a default out (PyTorch writes ``out: Optional[Tensor]`` for ``out=None``):
``ApiSignature.defaults_complete`` is False then, and a missing default means "not stated",
not "required".
"""

from __future__ import annotations

import ast
import difflib
import enum
import importlib
import inspect
import re
import sys
import textwrap
import typing
from dataclasses import dataclass, field
from functools import lru_cache
from types import ModuleType

from .frameworks import framework_of, installed_version

#: Above this many characters the signature text is broken into one parameter per line.
LINE_WIDTH = 100
INDENT = "    "

#: The method a class runs when it is called, by framework.
_CALL_METHODS = {"torch": ("forward",), "mindspore": ("construct",)}

#: Where a signature can come from, in the order they are tried.
INSPECT, DOCSTRING, OPERATOR = "inspect", "docstring", "operator"
SOURCES = (INSPECT, DOCSTRING, OPERATOR)

POSITIONAL_ONLY = "POSITIONAL_ONLY"
POSITIONAL_OR_KEYWORD = "POSITIONAL_OR_KEYWORD"
VAR_POSITIONAL = "VAR_POSITIONAL"
KEYWORD_ONLY = "KEYWORD_ONLY"
VAR_KEYWORD = "VAR_KEYWORD"


class ApiNotFound(LookupError):
    """A dotted name that the installed framework does not have."""

    def __init__(self, api: str, suggestions: list[str] | None = None, reason: str | None = None):
        super().__init__(api)
        self.api = api
        self.suggestions = list(suggestions or [])
        self.reason = reason

    def __str__(self) -> str:
        root = self.api.split(".", 1)[0]
        framework = framework_of(self.api)
        version = installed_version(framework.distribution) if framework else installed_version(root)
        if version:
            text = f"{self.api} does not exist in {root} {version}"
        else:
            text = f"{self.api} does not exist: {root} is not installed"
        if self.reason:
            text += f" ({self.reason})"
        if self.suggestions:
            text += f"; did you mean {_or_list(self.suggestions)}?"
        return text


def _or_list(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


@dataclass(frozen=True)
class Param:
    """One parameter. ``default_repr`` is None when the parameter has no default."""

    name: str
    default_repr: str | None = None
    kind: str = POSITIONAL_OR_KEYWORD  # an ``inspect.Parameter`` kind name

    @property
    def is_variadic(self) -> bool:
        return self.kind in (VAR_POSITIONAL, VAR_KEYWORD)

    @property
    def required(self) -> bool:
        return self.default_repr is None and not self.is_variadic

    @property
    def display(self) -> str:
        """The name as written in a signature: ``*args``, ``**kwargs``, ``name``."""
        return {VAR_POSITIONAL: "*", VAR_KEYWORD: "**"}.get(self.kind, "") + self.name

    def __str__(self) -> str:
        return self.display if self.default_repr is None else f"{self.name}={self.default_repr}"


@dataclass(frozen=True)
class ApiSignature:
    api: str
    kind: str  # "class", "function" or "method", as in ``schema.Kind``
    parameters: list[Param] = field(default_factory=list)
    inputs: list[Param] = field(default_factory=list)
    has_call: bool = False  # a class whose call method (forward / construct) was read
    source: str = "inspect"  # one of SOURCES: where the constructor's or function's parameters came from
    defaults_complete: bool = True  # False: a parameter without default may have one the source leaves out
    overloads: list[list[Param]] = field(default_factory=list)  # other parameter lists the API accepts

    @property
    def forms(self) -> list[list[Param]]:
        """Every parameter list the API accepts, ``parameters`` first."""
        return [self.parameters, *self.overloads]

    @property
    def text(self) -> str:
        return format_signature(self.api, self.kind, self.parameters, self.inputs if self.has_call else None)


# --------------------------------------------------------------------------- resolving


def resolve(api: str) -> object:
    """The object a dotted name stands for; raises ``ApiNotFound`` with close-match suggestions."""
    return _resolve(api)[0]


def module_of(api: str) -> str:
    """The longest prefix of ``api`` that is a module, e.g. ``torch.nn.functional`` for ``l1_loss``."""
    return _resolve(api)[1]


@lru_cache(maxsize=None)
def _resolve(api: str) -> tuple[object, str]:
    parts = api.split(".")
    if not all(part.isidentifier() for part in parts):
        raise ApiNotFound(api, reason="not a dotted Python name")
    try:
        obj: object = importlib.import_module(parts[0])
    except ModuleNotFoundError as error:
        reason = None if error.name == parts[0] else f"importing {parts[0]} failed: {error}"
        raise ApiNotFound(api, reason=reason) from None
    except Exception as error:  # an import can fail in many ways; all mean "not here"
        raise ApiNotFound(api, reason=f"importing {parts[0]} failed: {error}") from None
    module_path = parts[0]
    for index in range(1, len(parts)):
        part = parts[index]
        prefix = ".".join(parts[:index])
        try:
            obj = getattr(obj, part)
        except Exception:
            loaded = _import_submodule(obj, f"{prefix}.{part}")
            if loaded is None:
                matches = difflib.get_close_matches(part, public_names(obj), n=3, cutoff=0.6)
                raise ApiNotFound(api, [f"{prefix}.{match}" for match in matches]) from None
            obj = loaded
        if isinstance(obj, ModuleType) and module_path == prefix:
            module_path = f"{prefix}.{part}"
    return obj, module_path


def _import_submodule(parent: object, dotted: str) -> ModuleType | None:
    """A submodule that its package does not import by itself (only a module's may exist)."""
    if not isinstance(parent, ModuleType) or not hasattr(parent, "__path__"):
        return None
    try:
        return importlib.import_module(dotted)
    except Exception:
        return None


def public_names(obj: object) -> list[str]:
    try:
        names = dir(obj)
    except Exception:
        return []
    return sorted(name for name in names if not name.startswith("_"))


# Methods a user of a class calls whatever the class: training-loop and checkpoint calls of modules,
# optimizers and schedulers. A class's surface is these (where it has them) and its own public methods.
USER_SURFACE = ("state_dict", "load_state_dict", "step", "get_last_lr", "zero_grad", "parameters", "train",
                "eval", "extra_repr")
CALLED_BY_THE_FRAMEWORK = ("forward",)  # a user calls the module, not these


def class_surface(cls: type) -> list[str]:
    """The public methods and attributes of ``cls`` that a user calls: ``USER_SURFACE`` where it has
    them, then those the class defines itself (not inherited), sorted."""
    common = [name for name in USER_SURFACE if hasattr(cls, name)]
    own = sorted(name for name, value in vars(cls).items()
                 if not name.startswith("_") and name not in CALLED_BY_THE_FRAMEWORK and name not in common
                 and (callable(value) or isinstance(value, property)))
    return common + own


def missing_surface(source_api: str, target_api: str) -> list[str]:
    """The names of the source class's surface (``class_surface``) that the target class lacks;
    raises ``ApiNotFound`` when either is not there."""
    source, target = resolve(source_api), resolve(target_api)
    if not isinstance(source, type) or not isinstance(target, type):
        return []
    return [name for name in class_surface(source) if not hasattr(target, name)]


def exists(api: str) -> bool:
    try:
        resolve(api)
    except ApiNotFound:
        return False
    return True


def kind_of(api: str, obj: object | None = None) -> str:
    """``class``, ``method`` (an attribute of a class) or ``function``."""
    if obj is None:
        obj = resolve(api)
    if inspect.isclass(obj):
        return "class"
    if "." in api:
        parent_api = api.rsplit(".", 1)[0]
        try:
            parent = resolve(parent_api)
        except ApiNotFound:
            parent = None
        if inspect.isclass(parent):
            return "method"
    return "function"


_DEPRECATED = re.compile(r"^\s*\**(\w+)\**\s*(?:\([^)\n]*\))?\s*:\s*\.*\s*Deprecated\b", re.MULTILINE | re.IGNORECASE)


def deprecated_parameters(api: str) -> set[str]:
    """Parameters that the API's own docstring calls deprecated (``name (type): Deprecated ...``)."""
    try:
        doc = inspect.getdoc(resolve(api)) or ""
    except ApiNotFound:
        return set()
    return set(_DEPRECATED.findall(doc))


# --------------------------------------------------------------------------- signatures


def signature_of(api: str, kind: str | enum.Enum | None = None) -> ApiSignature | None:
    """The signature of ``api`` as installed, or None when no source gives one.

    ``kind`` is ``class``, ``function`` or ``method`` (``schema.Kind`` works too); guessed when
    omitted. Raises ``ApiNotFound`` when the API does not exist.
    """
    obj = resolve(api)
    kind = _kind_name(kind) or kind_of(api, obj)
    if kind == "class" and not inspect.isclass(obj):
        kind = kind_of(api, obj)  # named a class but is not one: read it for what it is
    if kind == "class":
        read = (_constructor_params(obj) or _documented(obj, api, drop_self=False) or _forwarded(obj)
                or _anything(obj))
        if read is None:
            return None
        call = _call_method(obj, api)
        inputs = _params(call, drop_first=True) if call is not None else None
        if inputs is not None and _generic_params(inputs):
            inputs = None
        return ApiSignature(api, kind, read.parameters, inputs or [], has_call=inputs is not None,
                            source=read.source, defaults_complete=read.defaults_complete, overloads=read.overloads)
    if inspect.isclass(obj):  # a class asked for as a function: its constructor
        read = _constructor_params(obj) or _documented(obj, api, drop_self=False)
    else:
        read = _read_callable(obj, api, kind == "method")
    if read is None:
        return None
    return ApiSignature(api, kind, read.parameters, source=read.source, defaults_complete=read.defaults_complete,
                        overloads=read.overloads)


@dataclass(frozen=True)
class _Read:
    parameters: list[Param]
    source: str
    defaults_complete: bool = True
    overloads: list[list[Param]] = field(default_factory=list)

    @property
    def forms(self) -> list[list[Param]]:
        return [self.parameters, *self.overloads]


def _read_callable(obj: object, api: str, is_method: bool) -> _Read | None:
    """Function or method parameters from the first source in ``SOURCES`` that has them."""
    parameters = _params(obj, drop_first=is_method)
    if parameters is not None and not _generic_params(parameters):
        return _Read(parameters, INSPECT)
    documented = _documented(obj, api, drop_self=is_method)
    operator = _operator(api, is_method)
    if documented is None:
        return operator
    if operator is not None:  # the operator's overloads that the docstring does not state
        known = [documented.parameters, *documented.overloads]
        extra = [form for form in operator.forms if not any(_covered(form, other) for other in known)]
        documented = _Read(documented.parameters, DOCSTRING, False, [*documented.overloads, *extra])
    return documented


def _covered(form: list[Param], known: list[Param]) -> bool:
    """``form`` adds no name to ``known`` (``abs(input)`` beside the documented ``abs(input, *, out)``)."""
    return {param.name for param in form} <= {param.name for param in known}


def _generic_params(parameters: list[Param]) -> bool:
    """``(*args, **kwargs)`` (or nothing but those): a wrapper that hides the real parameters."""
    return bool(parameters) and all(param.is_variadic for param in parameters) and len(parameters) > 1


def _constructor_params(cls: type) -> _Read | None:
    if _takes_no_arguments(cls):
        return _Read([], INSPECT)
    parameters = _params(cls, drop_first=False)
    if parameters is not None and parameters and all(param.is_variadic for param in parameters):
        parameters = _init_params(cls) or parameters
    if parameters is None:
        return None
    if not _generic_params(parameters):
        return _Read(parameters, INSPECT)
    forms = _overload_forms(cls.__init__)
    if forms:
        return _Read(forms[0], INSPECT, overloads=forms[1:])
    return None


def _init_params(cls: type) -> list[Param] | None:
    """The parameters of ``__init__`` itself, where ``inspect.signature(cls)`` sees only
    ``(*args, **kwargs)``: behind a ``__new__`` that a deprecation decorator adds (``NLLLoss2d``), or
    behind a decorator without ``functools.wraps`` (``_undecorated``)."""
    function = cls.__init__
    for _ in range(5):  # decorators on decorators (MindSpore's LazyAdam has two)
        parameters = _params(function, drop_first=True)
        if parameters is not None and not _generic_params(parameters):
            return parameters
        function = getattr(function, "__wrapped__", None) or _undecorated(function)
        if function is None:
            return None
    return None


def _overload_forms(function: object) -> list[list[Param]]:
    """The ``typing.overload`` forms of ``function`` that name their parameters (``torch.nn.LSTM``)."""
    try:
        overloads = typing.get_overloads(function)
    except Exception:
        return []
    forms = [_params(overload, drop_first=True) for overload in overloads]
    return [form for form in forms if form is not None and not _generic_params(form)]


def _forwarded(cls: type) -> _Read | None:
    """The base class's parameters, where the class's own ``__init__(self, *args, **kwargs)`` passes
    them on: ``super().__init__(mode, *args, **kwargs)`` (``mindspore.nn.LSTM``) takes the base's
    parameters after the ones it fills itself; a name it reads from ``kwargs`` (``'nonlinearity'``
    in ``mindspore.nn.RNN``) is a keyword of its own, whose default the source does not state."""
    init = cls.__dict__.get("__init__")
    own = _params(init, drop_first=True) if inspect.isfunction(init) else None
    if own is None or not _generic_params(own):
        return None
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(init)))
    except (OSError, TypeError, SyntaxError):
        return None
    filled = None
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "__init__"
                and isinstance(node.func.value, ast.Call) and getattr(node.func.value.func, "id", None) == "super"):
            starred = [index for index, arg in enumerate(node.args) if isinstance(arg, ast.Starred)]
            filled = starred[0] if starred else None
    base = next((base for base in cls.__mro__[1:] if "__init__" in base.__dict__), None)
    inherited = _params(base.__init__, drop_first=True) if filled is not None and base is not None else None
    if inherited is None or _generic_params(inherited):
        return None
    inherited_names = {param.name for param in inherited}
    extra = [Param(name, None, KEYWORD_ONLY) for name in sorted(_kwargs_keys(tree)) if name not in inherited_names]
    return _Read(inherited[filled:] + extra, INSPECT, defaults_complete=not extra)


def _kwargs_keys(tree: ast.AST) -> set[str]:
    """The names ``tree`` reads from ``kwargs``: ``kwargs['name']`` or ``'name' in kwargs``."""
    keys = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Subscript) and getattr(node.value, "id", None) == "kwargs" \
                and isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, str):
            keys.add(node.slice.value)
        elif isinstance(node, ast.Compare) and isinstance(node.left, ast.Constant) \
                and isinstance(node.left.value, str) \
                and any(getattr(comparator, "id", None) == "kwargs" for comparator in node.comparators):
            keys.add(node.left.value)
    return keys


def _anything(cls: type) -> _Read | None:
    """``(*args, **kwargs)`` when that is what the class's own ``__init__`` says and nothing more is
    known (``torch.nn.Identity`` ignores its arguments): written in the class body, not a wrapper.
    Tried last: for a class that passes ``*args`` on to its base (``mindspore.nn.LSTM``),
    ``_forwarded`` finds the real parameters first."""
    init = cls.__dict__.get("__init__")
    if not inspect.isfunction(init) or hasattr(init, "__wrapped__"):
        return None
    if init.__qualname__ != f"{cls.__qualname__}.__init__":
        return None
    if not all(inspect.isclass(cell.cell_contents) for cell in init.__closure__ or ()):  # super()'s __class__
        return None
    parameters = _params(init, drop_first=True)
    return _Read(parameters, INSPECT) if parameters is not None else None


# --------------------------------------------------------------------------- documented signatures

#: One docstring line as Sphinx's ``autodoc_docstring_signature`` reads it: ``[module.]name(args) [-> ret]``.
_DOC_SIGNATURE = re.compile(r"^\s*(?:[\w.]+\.)?(\w+)\s*(\(.*\))\s*(?:->\s*(.*?))?\s*$")


#: A Sphinx directive that documents an overload further down: ``.. method:: Tensor.view(dtype) -> Tensor``.
_DOC_DIRECTIVE = re.compile(r"^\s*\.\.\s+(?:py:)?(?:method|function|class)::\s*(.*)$")


def documented_signatures(obj: object, name: str) -> list[list[Param]]:
    """The parameter lists the docstring states for ``name``: its leading signature lines, as
    Sphinx's ``autodoc_docstring_signature`` reads them (consecutive lines from the first, only
    those naming the object itself), then ``.. method::``/``.. function::`` directives for the
    same name further down, the way the frameworks document more overloads."""
    doc = getattr(obj, "__doc__", None)
    if not isinstance(doc, str):
        return []
    lines = inspect.cleandoc(doc).splitlines()
    forms = []
    for line in lines:
        match = _DOC_SIGNATURE.match(line) if line.strip() else None
        if match is None:
            break
        if match.group(1) == name:
            forms.append(f"{name}{match.group(2)}")
    for line in lines:
        directive = _DOC_DIRECTIVE.match(line)
        match = _DOC_SIGNATURE.match(directive.group(1)) if directive else None
        if match is not None and match.group(1) == name:
            forms.append(f"{name}{match.group(2)}")
    parsed = [parse_signature(form) for form in forms]
    return [form.parameters for form in parsed if form is not None]


def documented_signature(obj: object, name: str) -> list[Param] | None:
    """The first parameter list the docstring states for ``name`` (see ``documented_signatures``)."""
    forms = documented_signatures(obj, name)
    return forms[0] if forms else None


def _documented(obj: object, api: str, drop_self: bool) -> _Read | None:
    name = api.rsplit(".", 1)[-1]
    forms = documented_signatures(obj, name)
    if not forms and inspect.isclass(obj):
        forms = documented_signatures(obj.__init__, "__init__")
        drop_self = True
    if not forms:
        return None
    if drop_self:
        forms = [form[1:] if form and form[0].name == "self" else form for form in forms]
    unique = [form for index, form in enumerate(forms) if form not in forms[:index]]
    return _Read(unique[0], DOCSTRING, False, unique[1:])


# --------------------------------------------------------------------------- operator definitions


def _operator(api: str, is_method: bool) -> _Read | None:
    framework = api.split(".", 1)[0]
    reader = _OPERATOR_READERS.get(framework)
    return reader(api.rsplit(".", 1)[-1], is_method) if reader else None


def _torch_operator(name: str, is_method: bool) -> _Read | None:
    """PyTorch's native function schema ``aten::NAME``: the overload without ``.out`` and the like."""
    import torch

    try:
        schemas = torch._C._jit_get_schemas_for_operator(f"aten::{name}")
    except Exception:
        return None
    forms = []
    on_tensors = [schema for schema in schemas if _tensor_first(schema)]
    # TorchScript also registers forms on plain numbers (``add.int(int a, int b)``): not the Python API
    schemas = on_tensors or [schema for schema in schemas if not schema.overload_name]
    for schema in sorted(schemas, key=lambda item: (item.overload_name != "", item.overload_name)):
        if schema.overload_name == "out" or schema.overload_name.endswith("_out"):
            continue  # the same function writing into `out`: Python exposes it as the `out` keyword
        parameters = parse_schema_arguments(str(schema))
        if parameters is None:
            continue
        if parameters and parameters[0].name == "self":
            parameters = parameters[1:] if is_method else [Param("input", None, parameters[0].kind), *parameters[1:]]
        if parameters not in forms:
            forms.append(parameters)
    if not forms:
        return None
    return _Read(forms[0], OPERATOR, True, forms[1:])


def _tensor_first(schema: object) -> bool:
    arguments = getattr(schema, "arguments", None) or []
    return bool(arguments) and str(arguments[0].type).startswith("Tensor")


def parse_schema_arguments(schema: str) -> list[Param] | None:
    """Parameters of a native function schema, ``aten::gelu(Tensor self, *, str approximate="none") -> Tensor``.

    Types are dropped; string defaults are written with single quotes, as Python prints them.
    """
    head, _, _ = schema.partition("(")
    parsed = parse_signature("op(" + schema[len(head) + 1:])
    if parsed is None:
        return None
    parameters = []
    for param in parsed.parameters:
        name = param.name.split()[-1] if param.name.split() else param.name
        default = param.default_repr
        if default is not None and len(default) >= 2 and default[0] == default[-1] == '"':
            default = repr(default[1:-1])
        parameters.append(Param(name, default, param.kind))
    return parameters


def _mindspore_operator(name: str, is_method: bool) -> _Read | None:
    """MindSpore's generated operator function of that name (``gen_ops_def``), or its ``_ext`` form."""
    try:
        definitions = importlib.import_module("mindspore.ops.auto_generate.gen_ops_def")
    except Exception:
        return None
    for candidate in (name, f"{name}_ext"):
        function = getattr(definitions, candidate, None)
        if function is None or inspect.isclass(function):
            continue
        parameters = _params(function, drop_first=False)
        if parameters is None or _generic_params(parameters):
            continue
        if is_method and parameters:
            parameters = parameters[1:]
        return _Read(parameters, OPERATOR)
    return None


_OPERATOR_READERS = {"torch": _torch_operator, "mindspore": _mindspore_operator}


def _takes_no_arguments(cls: type) -> bool:
    """A layer that keeps ``torch.nn.Module.__init__``: its ``(*args, **kwargs)`` accepts none."""
    module_class = sys.modules.get("torch.nn") and getattr(sys.modules["torch.nn"], "Module", None)
    return module_class is not None and cls.__init__ is module_class.__init__ and cls is not module_class


def constructible(obj: object) -> bool:
    """False for a pybind11 class without a constructor (calling it raises "No constructor defined!"):
    it keeps the slot wrapper that pybind11 puts in place of ``__init__`` instead of a bound ``init``."""
    if not inspect.isclass(obj) or not any(base.__name__ == "pybind11_object" for base in obj.__mro__):
        return True
    return type(obj.__dict__.get("__init__", None)).__name__ != "wrapper_descriptor"


def _undecorated(function: object) -> object | None:
    """The function that a decorator without ``functools.wraps`` hides in its closure.

    MindSpore wraps optimizer constructors so (``opt_init_args_register``): ``inspect`` then
    sees only ``(*args, **kwargs)``.
    """
    for cell in getattr(function, "__closure__", None) or ():
        inner = cell.cell_contents
        if inspect.isfunction(inner) and inner.__name__ == "__init__":
            return inner
    return None


def _kind_name(kind: str | enum.Enum | None) -> str | None:
    if kind is None:
        return None
    value = kind.value if isinstance(kind, enum.Enum) else str(kind)
    if value not in ("class", "function", "method"):
        raise ValueError(f"unknown kind {value!r}: expected class, function or method")
    return value


def _call_method(cls: type, api: str) -> object | None:
    """The method that calling an instance runs: torch ``forward``, MindSpore ``construct``."""
    framework = api.split(".", 1)[0]
    names = _CALL_METHODS.get(framework, ()) + tuple(
        name for names in _CALL_METHODS.values() for name in names if name not in _CALL_METHODS.get(framework, ()))
    for name in names:
        method = inspect.getattr_static(cls, name, None)
        if method is not None:
            method = getattr(cls, name)
            if getattr(method, "__name__", "") == "_forward_unimplemented" or _generic(method):
                return None  # the base class's placeholder: this class defines no call
            return method
    call = inspect.getattr_static(cls, "__call__", None)
    if call is not None and call is not inspect.getattr_static(object, "__call__", None) and not _generic(call):
        return getattr(cls, "__call__")
    return None


def _generic(function: object) -> bool:
    """``(self, *args, **kwargs)``: says nothing about the inputs."""
    params = _params(function, drop_first=True)
    return params is None or all(param.is_variadic for param in params)


def _params(obj: object, drop_first: bool) -> list[Param] | None:
    try:
        signature = inspect.signature(obj)
    except (ValueError, TypeError, RuntimeError):
        return None
    params = list(signature.parameters.values())
    if drop_first and params and params[0].name in ("self", "cls") and params[0].kind in (
            inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD):
        params = params[1:]
    return [Param(p.name, None if p.default is inspect.Parameter.empty else default_repr(p.default), p.kind.name)
            for p in params]


def default_repr(value: object) -> str:
    """A default as a reader would type it: ``'mean'``, ``None``, ``torch.float32``, ``Enum.X``."""
    if isinstance(value, enum.Enum):
        return f"{type(value).__name__}.{value.name}"
    if inspect.isclass(value) or inspect.isfunction(value) or inspect.isbuiltin(value):
        module = getattr(value, "__module__", None) or ""
        name = getattr(value, "__qualname__", None) or getattr(value, "__name__", "?")
        return name if module in ("builtins", "") else f"{module}.{name}"
    try:
        text = repr(value)
    except Exception:
        return "..."
    if text.startswith("<") and text.endswith(">"):
        return f"{type(value).__name__}(...)"
    return text


# --------------------------------------------------------------------------- text


def format_signature(api: str, kind: str, parameters: list[Param], inputs: list[Param] | None = None,
                     width: int = LINE_WIDTH) -> str:
    """Signature text as the pages show it, one line when it fits in ``width``:

    ``class torch.nn.L1Loss(size_average=None, reduce=None, reduction='mean')(input, target)``
    """
    prefix = "class " if kind == "class" else ""
    head = f"{prefix}{api}"
    params = _with_markers(parameters)
    call = None if inputs is None else _with_markers(inputs)
    one_line = f"{head}({', '.join(params)})" + ("" if call is None else f"({', '.join(call)})")
    if len(one_line) <= width:
        return one_line
    lines = [f"{head}("] + [f"{INDENT}{item}," for item in params]
    if params:
        lines[-1] = lines[-1][:-1]
        lines.append(")")
    else:
        lines[-1] += ")"
    if call is not None:
        closing = f"{lines[-1]}({', '.join(call)})"
        if len(closing) <= width:
            lines[-1] = closing
        else:
            lines[-1] += "("
            lines += [f"{INDENT}{item}," for item in call]
            if call:
                lines[-1] = lines[-1][:-1]
            lines.append(")")
    return "\n".join(lines)


def _with_markers(params: list[Param]) -> list[str]:
    """Parameter texts with a bare ``*`` before keyword-only ones (``/`` is left out)."""
    items = []
    star_done = any(param.kind == VAR_POSITIONAL for param in params)
    for param in params:
        if param.kind == KEYWORD_ONLY and not star_done:
            items.append("*")
            star_done = True
        items.append(str(param))
    return items


@dataclass(frozen=True)
class ParsedSignature:
    """Names read back from signature text (as written on a page or in a mapping)."""

    api: str
    is_class: bool
    parameters: list[Param]
    inputs: list[Param] | None


_HEAD = re.compile(r"^\s*(class\s+)?([A-Za-z_][\w.]*)\s*\(")


def parse_signature(text: str) -> ParsedSignature | None:
    """Read ``[class ]api(params)[(inputs)][ -> ...]``; None when the text has no such shape.

    Only the first signature in ``text`` is read. Defaults are kept as written.
    """
    match = _HEAD.match(text)
    if not match:
        return None
    groups: list[str] = []
    position = match.end() - 1
    while position < len(text) and text[position] == "(" and len(groups) < 2:
        end = _closing(text, position)
        if end is None:
            return None
        groups.append(text[position + 1:end])
        position = end + 1
        while position < len(text) and text[position] in " \t":
            position += 1
    parameters = _split_params(groups[0])
    inputs = _split_params(groups[1]) if len(groups) > 1 else None
    return ParsedSignature(match.group(2), bool(match.group(1)), parameters, inputs)


def parse_signatures(text: str) -> list[ParsedSignature]:
    """Every signature in ``text``, one per overload: each begins on a line of its own."""
    starts = [match.start() for match in re.finditer(r"^[ \t]*(?:class\s+)?[A-Za-z_][\w.]*\s*\(", text, re.MULTILINE)]
    parsed = []
    for start in starts:
        if any(begin < start < end for begin, end in _spans(text, parsed)):
            continue  # a parameter line of the signature before, not a new one
        signature = parse_signature(text[start:])
        if signature is not None:
            parsed.append((start, signature))
    return [signature for _, signature in parsed]


def _spans(text: str, parsed: list) -> list[tuple[int, int]]:
    spans = []
    for start, _ in parsed:
        open_at = text.index("(", start)
        end = _closing(text, open_at)
        spans.append((start, len(text) if end is None else end))
    return spans


def outside_strings(text: str):
    """(index, character, bracket depth before it) for each character outside string literals."""
    depth, quote = 0, None
    for index, char in enumerate(text):
        if quote:
            if char == quote and text[index - 1] != "\\":
                quote = None
            continue
        if char in "'\"":
            quote = char
            continue
        yield index, char, depth
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1


def _closing(text: str, start: int) -> int | None:
    """Index of the bracket that closes the one at ``start``."""
    for index, char, depth in outside_strings(text[start:]):
        if char in ")]}" and depth == 1:
            return start + index
    return None


def _split_params(inner: str) -> list[Param]:
    cuts = [index for index, char, depth in outside_strings(inner) if char == "," and depth == 0]
    items = [inner[begin + 1:end] for begin, end in zip([-1, *cuts], [*cuts, len(inner)])]
    params = []
    keyword_only = False
    for item in (" ".join(item.split()) for item in items):
        if not item or item == "/":
            continue
        if item == "*":
            keyword_only = True
            continue
        name, _, default = item.partition("=")
        name = name.split(":", 1)[0].strip()
        kind = KEYWORD_ONLY if keyword_only else POSITIONAL_OR_KEYWORD
        if name.startswith("**"):
            name, kind = name[2:], VAR_KEYWORD
        elif name.startswith("*"):
            name, kind, keyword_only = name[1:], VAR_POSITIONAL, True
        params.append(Param(name, default.strip() or None if default else None, kind))
    return params


# --------------------------------------------------------------------------- coverage

#: The namespaces whose public callables the signature coverage figure counts, by framework.
COVERAGE_NAMESPACES = {
    "torch": ("torch", "torch.nn", "torch.nn.functional", "torch.Tensor", "torch.optim"),
    "mindspore": ("mindspore.mint", "mindspore.mint.nn", "mindspore.mint.nn.functional", "mindspore.ops",
                  "mindspore.nn", "mindspore.Tensor"),
}


@dataclass(frozen=True)
class SignatureCoverage:
    """How many public callables of one namespace have a checkable signature, and from which source."""

    namespace: str
    total: int
    by_source: dict[str, int]
    unreadable: tuple[str, ...]
    not_constructible: tuple[str, ...] = ()  # classes Python cannot instantiate: not counted in ``total``

    @property
    def readable(self) -> int:
        return sum(self.by_source.values())

    @property
    def percent(self) -> float:
        return 100.0 * self.readable / self.total if self.total else 100.0


def signature_coverage(namespace: str) -> SignatureCoverage:
    """Read the signature of every public callable of ``namespace`` (see ``coverage.public_names``)."""
    from .coverage import public_names as namespace_names

    by_source = {source: 0 for source in SOURCES}
    unreadable, excluded = [], []
    for name in namespace_names(namespace):
        api = f"{namespace}.{name}"
        if not constructible(resolve(api)):
            excluded.append(api)
            continue
        try:
            signature = signature_of(api)
        except Exception:  # any failure to read is what this figure counts, not a crash
            signature = None
        if signature is None:
            unreadable.append(api)
        else:
            by_source[signature.source] += 1
    return SignatureCoverage(namespace, len(unreadable) + sum(by_source.values()), by_source, tuple(unreadable),
                             tuple(excluded))


def framework_coverage(framework: str) -> list[SignatureCoverage]:
    return [signature_coverage(namespace) for namespace in COVERAGE_NAMESPACES[framework]]
