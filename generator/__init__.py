"""Generate cross-framework API difference pages from mapping YAML.

The pipeline, one module a stage, data flowing one way:

    loader (YAML -> validated ``schema.Mapping``)
      -> execute (run examples on real torch / MindSpore, cached)
      -> render (Jinja -> MyST Markdown pages)
      -> sphinx_ext (Sphinx builds the HTML site)
"""

from pathlib import Path

__version__ = "0.1.2"  # part of every cache key: error messages now skip MindSpore's lines of dashes

# The folder holding this package: the repository root in a checkout (mappings/, templates/, docs/).
ROOT = Path(__file__).resolve().parent.parent
