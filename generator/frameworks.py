"""What the generator knows about each framework: display name, package, doc URL pattern.

Versions are read from package metadata so that nothing here imports torch or MindSpore.

Doc URLs: ``DOC_URL_PATTERNS`` holds one ``str.format`` pattern per framework, with the fields
``{release}`` (the framework's name for the docs of the installed version), ``{folder}`` (the
section of its API reference), ``{api}`` and ``{language}`` (the framework's name for the site's
language, where it publishes its docs in that language; English otherwise); ``conf.py`` can
replace a pattern (``mapping_doc_urls``). Release names, as the projects publish them:
PyTorch ``2.13`` (major.minor; "stable" when not installed); MindSpore ``r2.10.0`` from 2.3 on
(``r2.3.0``, ``r2.4.1``, ...), ``r2.2`` before (major.minor), "master" when not installed.
Languages: PyTorch publishes English only; MindSpore ``en`` and ``zh-CN``.
"""

from __future__ import annotations

import re
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

    def doc_url(self, api: str, kind: str, language: str = "en") -> str:
        """The API's page in the framework's docs for the installed version, in ``language`` (a site
        language, ``zh_CN``) where the framework publishes one."""
        release, folder = _DOC_PARTS[self.key](api, kind, self.version or "")
        languages = DOC_LANGUAGES.get(self.key, {})
        shown = languages.get(language, languages.get("en", "en"))
        return DOC_URL_PATTERNS[self.key].format(release=release, folder=folder, api=api, language=shown)


@cache
def installed_version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def _major_minor(version: str) -> str:
    return ".".join(version.split("+")[0].split(".")[:2])


def _torch_parts(api: str, kind: str, version: str) -> tuple[str, str]:
    return (_major_minor(version) if version else "stable"), "generated"


def _mindspore_release(version: str) -> str:
    if not version:
        return "master"
    numbers = [int(part) for part in re.findall(r"\d+", version.split("+")[0])[:3]] + [0, 0]
    major, minor, patch = numbers[:3]
    return f"r{major}.{minor}.{patch}" if (major, minor) >= (2, 3) else f"r{major}.{minor}"


def _mindspore_parts(api: str, kind: str, version: str) -> tuple[str, str]:
    parts = api.split(".")
    # mindspore.nn.Dense -> api_python/nn/; mindspore.Tensor.abs -> api_python/mindspore/Tensor/
    if len(parts) == 2 or parts[1][:1].isupper():
        folder = "mindspore" if kind != "method" else f"mindspore/{parts[1]}"
    else:
        folder = parts[1]
    return _mindspore_release(version), folder


_DOC_PARTS = {"torch": _torch_parts, "mindspore": _mindspore_parts}

PUBLISHED_DOC_URL_PATTERNS: dict[str, str] = {
    "torch": "https://docs.pytorch.org/docs/{release}/{folder}/{api}.html",
    "mindspore": "https://www.mindspore.cn/docs/{language}/{release}/api_python/{folder}/{api}.html",
}
# Site language -> the framework's name for its docs in that language, where it has them.
DOC_LANGUAGES: dict[str, dict[str, str]] = {"mindspore": {"en": "en", "zh_CN": "zh-CN"}}
DOC_URL_PATTERNS: dict[str, str] = dict(PUBLISHED_DOC_URL_PATTERNS)  # the patterns of the current build


def use_doc_url_patterns(overrides: dict[str, str]) -> None:
    """Make the published patterns, with ``overrides`` replacing some, the current ones: each build
    starts afresh, so an override of one build never carries over to the next in the same process."""
    DOC_URL_PATTERNS.clear()
    DOC_URL_PATTERNS.update(PUBLISHED_DOC_URL_PATTERNS, **overrides)

FRAMEWORKS: dict[str, Framework] = {
    "torch": Framework("torch", "PyTorch", "torch", ("torchvision", "torchaudio", "torchtext")),
    "mindspore": Framework("mindspore", "MindSpore", "mindspore"),
}


# The direction of every pair on the site: PyTorch APIs are the sources, MindSpore APIs their
# targets (the overview's columns, the importer and the coverage of source modules assume it).
SOURCE_FRAMEWORK = FRAMEWORKS["torch"]
TARGET_FRAMEWORK = FRAMEWORKS["mindspore"]

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
