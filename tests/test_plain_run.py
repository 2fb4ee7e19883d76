"""Outputs as a plain run prints them: MindSpore runs ops asynchronously, and the worker does not
wait after every statement, so an error surfaces where a reader's own script meets it."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from generator.execute import Executor, Snippet

pytestmark = pytest.mark.frameworks

MIXED_CAT = textwrap.dedent("""\
    import numpy as np
    from mindspore import Tensor, ops

    ints = Tensor(np.array([[1, 2]], dtype=np.int32))
    floats = Tensor(np.array([[0.5, 1.5]], dtype=np.float32))
    result = ops.cat((ints, floats))
    print(result.dtype)
    print(result)
    """)
UNUSED = MIXED_CAT.replace("print(result.dtype)\nprint(result)\n", "print('done')\n")
AFTER = "import mindspore, numpy as np\nprint(mindspore.Tensor(np.ones(2), mindspore.float32) + 1)\n"


def test_errors_surface_where_a_plain_run_meets_them(tmp_path: Path):
    snippets = [Snippet("mindspore", code) for code in (MIXED_CAT, UNUSED, AFTER)]
    with Executor(jobs=1, cache_path=None, progress=False) as pool:
        mixed, unused, after = pool.run(snippets)
    # a plain script prints the promoted dtype, then fails where the values are needed
    assert [(output.line, output.text) for output in mixed.outputs] == [(7, "Float32")]
    assert (mixed.status, mixed.error_line) == ("error", 8)
    assert "Concat" in mixed.error_message
    # never used: a plain run logs the error and exits normally; the page says so after the last line
    assert [output.text for output in unused.outputs] == ["done"]
    assert (unused.status, unused.error_line) == ("error", 7)
    assert unused.error_message.startswith("pending when the snippet ended: ")
    # the pending error never leaks into the next snippet
    assert (after.status, [output.text for output in after.outputs]) == ("ok", ["[2. 2.]"])
