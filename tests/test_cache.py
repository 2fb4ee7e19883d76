"""The sqlite result cache: keys, hits, force, corruption."""

from __future__ import annotations

import sqlite3
import warnings
from dataclasses import replace

import pytest

import generator.results
from generator.cache import CacheWarning, ResultCache
from generator.execute import Executor, Snippet, SnippetResult, StatementOutput, cache_key


def sample(text="1") -> dict:
    return SnippetResult("ok", [StatementOutput(2, text)], "", None, None, None, 0.01, "2.13.0", "cpu", "CPU").to_dict()


# ---------------------------------------------------------------- the store


def test_put_get_roundtrip(tmp_path):
    path = tmp_path / "cache.sqlite"
    with ResultCache(path) as cache:
        cache.put("a", sample("x"))
        cache.put_many([("b", sample("y")), ("c", sample("z"))])
        assert len(cache) == 3
    with ResultCache(path) as cache:  # persisted
        found = cache.get_many(["a", "b", "missing"])
        assert set(found) == {"a", "b"}
        assert SnippetResult.from_dict(found["b"]).outputs == [StatementOutput(2, "y")]
        cache.put("a", sample("new"))  # overwrite
        assert cache.get("a")["outputs"][0]["text"] == "new"


def test_many_keys_are_looked_up_in_batches(tmp_path):
    with ResultCache(tmp_path / "c.sqlite") as cache:
        cache.put_many([(f"k{i}", sample(str(i))) for i in range(1200)])
        found = cache.get_many([f"k{i}" for i in range(0, 1300)])
        assert len(found) == 1200


@pytest.mark.parametrize("garbage", [b"this is not a database" * 100, b"\x00\xff" * 5000])
def test_corrupt_file_is_reported_moved_aside_and_rebuilt(tmp_path, garbage):
    path = tmp_path / "cache.sqlite"
    with ResultCache(path) as cache:
        cache.put("a", sample())
    path.write_bytes(garbage)
    with pytest.warns(CacheWarning, match=str(path)):
        cache = ResultCache(path)
    with cache:
        assert cache.get("a") is None  # never trusted
        cache.put("b", sample())
        assert cache.get("b") is not None
    assert (tmp_path / "cache.sqlite.corrupt").read_bytes() == garbage
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ResultCache(path).close()  # the rebuilt file is fine


def test_garbage_written_over_an_open_cache_is_detected(tmp_path):
    path = tmp_path / "cache.sqlite"
    cache = ResultCache(path)
    cache.put_many([(f"k{i}", sample("x" * 2000)) for i in range(50)])
    cache.close()
    data = bytearray(path.read_bytes())
    data[0:100] = b"\xde\xad\xbe\xef" * 25  # header destroyed
    path.write_bytes(bytes(data))
    with pytest.warns(CacheWarning, match="corrupt"):
        with ResultCache(path) as cache:
            assert cache.get_many([f"k{i}" for i in range(50)]) == {}


def test_unreadable_json_row_is_a_miss_and_dropped(tmp_path):
    path = tmp_path / "cache.sqlite"
    with ResultCache(path) as cache:
        cache.put("good", sample())
    db = sqlite3.connect(path)
    db.execute("INSERT INTO results VALUES ('bad', '{not json', 0)")
    db.commit()
    db.close()
    with ResultCache(path) as cache:
        assert set(cache.get_many(["good", "bad"])) == {"good"}
        assert len(cache) == 1


def test_key_covers_everything_that_decides_the_output(monkeypatch):
    base = Snippet("torch", "print(1)", "", 60.0)
    key = cache_key(base, "cpu")
    assert key == cache_key(Snippet("torch", "print(1)"), "cpu")
    assert len(key) == 64
    variants = [
        cache_key(replace(base, code="print(2)"), "cpu"),
        cache_key(replace(base, setup="x = 1"), "cpu"),
        cache_key(replace(base, framework="mindspore"), "cpu"),
        cache_key(replace(base, timeout=5), "cpu"),
        cache_key(base, "gpu"),
        cache_key(base, "cpu", framework_version="0.0.1"),
    ]
    monkeypatch.setattr(generator.results, "__version__", "99.0")
    variants.append(cache_key(base, "cpu"))
    assert len(set(variants + [key])) == len(variants) + 1


# ---------------------------------------------------------------- with the executor


@pytest.mark.frameworks
def test_executor_hits_force_and_corruption(tmp_path):
    path = tmp_path / "results.sqlite"
    snippets = [Snippet("torch", "import torch\nprint(torch.rand(2))"),
                Snippet("torch", "raise ValueError('bad input')\n"),
                Snippet("torch", "import time\ntime.sleep(5)", timeout=0.5)]
    with Executor(jobs=1, cache_path=path, progress=False) as pool:
        first = pool.run(snippets)
        assert [r.status for r in first] == ["ok", "error", "timeout"]
        assert not any(r.cached for r in first)
        assert pool.stats.executed == 3

    with Executor(jobs=1, cache_path=path, progress=False) as pool:
        again = pool.run(snippets[:2])
        assert [r.cached for r in again] == [True, True]  # ok and error results are cached
        assert pool.stats.executed == 0 and pool.workers() == {}  # no worker was even started
        assert again[0].outputs == first[0].outputs
        assert again[1].error_message == "bad input"
        rerun = pool.run(snippets[2:])  # a timeout is not cached: it depends on the machine's load
        assert rerun[0].status == "timeout" and not rerun[0].cached

    with Executor(jobs=1, cache_path=path, force=True, progress=False) as pool:
        forced = pool.run(snippets[:1])
        assert not forced[0].cached and pool.stats.executed == 1
        assert forced[0].outputs == first[0].outputs  # seeded: the same numbers every run

    path.write_bytes(b"garbage" * 1000)
    for suffix in ("-wal", "-shm"):
        (tmp_path / f"results.sqlite{suffix}").unlink(missing_ok=True)
    with pytest.warns(CacheWarning, match="results.sqlite"):
        pool = Executor(jobs=1, cache_path=path, progress=False)
    with pool:
        rebuilt = pool.run(snippets[:1])
        assert not rebuilt[0].cached and rebuilt[0].outputs == first[0].outputs
        assert pool.run(snippets[:1])[0].cached
