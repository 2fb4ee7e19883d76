"""What the generator knows about each framework: display name, package, doc URL pattern.

Versions are read from package metadata so that nothing here imports torch or MindSpore.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import metadata


@dataclass(frozen=True)
class Framework:
    key: str
    display: str
    distribution: str
    namespaces: tuple[str, ...] = ()  # further top-level packages on this side, each its own distribution

    @property
    def version(self) -> str | None:
        return installed_version(self.distribution)

    def doc_url(self, api: str, kind: str) -> str:
        return _DOC_URLS[self.key](api, kind, self.version or "")


@cache
def installed_version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def _major_minor(version: str) -> str:
    return ".".join(version.split("+")[0].split(".")[:2])


def _torch_url(api: str, kind: str, version: str) -> str:
    release = _major_minor(version) if version else "stable"
    return f"https://docs.pytorch.org/docs/{release}/generated/{api}.html"


def _mindspore_url(api: str, kind: str, version: str) -> str:
    release = f"r{_major_minor(version)}" if version else "master"
    parts = api.split(".")
    # mindspore.nn.Dense -> api_python/nn/; mindspore.Tensor.abs -> api_python/mindspore/Tensor/
    if len(parts) == 2 or parts[1][:1].isupper():
        folder = "mindspore" if kind != "method" else f"mindspore/{parts[1]}"
    else:
        folder = parts[1]
    return f"https://www.mindspore.cn/docs/en/{release}/api_python/{folder}/{api}.html"


_DOC_URLS = {"torch": _torch_url, "mindspore": _mindspore_url}

FRAMEWORKS: dict[str, Framework] = {
    "torch": Framework("torch", "PyTorch", "torch", ("torchvision", "torchaudio", "torchtext")),
    "mindspore": Framework("mindspore", "MindSpore", "mindspore"),
}


_BY_ROOT = {root: framework for framework in FRAMEWORKS.values() for root in (framework.key, *framework.namespaces)}

# Frameworks that pages in the seed format may come from but that no mapping can use yet: a page
# from one gets a clear "not configured" error instead of warnings about PyTorch.
UNCONFIGURED = {"tensorflow": "TensorFlow", "tf": "TensorFlow", "jax": "JAX", "paddle": "PaddlePaddle",
                "keras": "Keras", "numpy": "NumPy"}


def framework_of(api: str) -> Framework | None:
    return _BY_ROOT.get(api.split(".", 1)[0])


def package_missing(api: str) -> str | None:
    """Why the package of ``api`` cannot be used here when it is a namespace of its framework
    (torchvision on the PyTorch side, say) that is not installed; None otherwise."""
    root = api.split(".", 1)[0]
    framework = framework_of(api)
    if framework is None or root == framework.key or installed_version(root) is not None:
        return None
    return f"{root} is not installed on this machine"
