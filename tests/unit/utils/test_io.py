import pytest

from ll_hallucination_pipeline.utils.io import atomic_directory, atomic_write_json, atomic_write_text, sha256_file


def test_atomic_write_replaces_whole_file(tmp_path):
    target = tmp_path / "out" / "a.txt"
    atomic_write_text(target, "first")
    atomic_write_text(target, "second")
    assert target.read_text() == "second"
    assert [p.name for p in target.parent.iterdir()] == ["a.txt"]


def test_interrupted_directory_leaves_nothing_and_keeps_old(tmp_path):
    target = tmp_path / "adapter"
    with atomic_directory(target) as tmp:
        (tmp / "weights").write_text("old")
    with pytest.raises(RuntimeError), atomic_directory(target) as tmp:
        (tmp / "weights").write_text("half")
        raise RuntimeError("killed")
    assert (target / "weights").read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["adapter"]


def test_interrupted_new_directory_leaves_no_target(tmp_path):
    with pytest.raises(KeyboardInterrupt), atomic_directory(tmp_path / "new") as tmp:
        (tmp / "x").write_text("partial")
        raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


def test_json_is_byte_stable_and_hash_matches(tmp_path):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    atomic_write_json(a, {"b": 1, "a": [1, 2]})
    atomic_write_json(b, {"a": [1, 2], "b": 1})
    assert a.read_bytes() == b.read_bytes()
    assert sha256_file(a) == sha256_file(b)
    atomic_write_json(b, {"a": [1, 3]})
    assert sha256_file(a) != sha256_file(b)
