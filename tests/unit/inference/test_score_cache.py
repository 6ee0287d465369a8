import multiprocessing as mp

from ll_hallucination_pipeline.inference.score_cache import ScoreCache


def _writer(root, worker, n):
    cache = ScoreCache(root, "model-a")
    for i in range(n):
        # every worker writes the same keys (a race) and some of its own
        cache.put_many([(cache.key([1, i], [2]), (-float(i), i % 2 == 0))])
        cache.put_many([(cache.key([worker, i], [3]), (float(worker), True))])


def test_concurrent_writers_lose_and_corrupt_nothing(tmp_path):
    workers, n = 6, 150
    procs = [mp.get_context("fork").Process(target=_writer, args=(tmp_path, w + 10, n)) for w in range(workers)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
        assert p.exitcode == 0
    cache = ScoreCache(tmp_path, "model-a")
    keys = {cache.key([1, i], [2]): (-float(i), i % 2 == 0) for i in range(n)}
    keys |= {cache.key([w + 10, i], [3]): (float(w + 10), True) for i in range(n) for w in range(workers)}
    assert cache.get_many(keys) == keys
    assert not [p for p in tmp_path.rglob("*") if ".tmp-" in p.name]


def test_one_write_is_one_file_and_later_writes_of_others_are_seen(tmp_path):
    reader, writer = ScoreCache(tmp_path, "model-a"), ScoreCache(tmp_path, "model-a")
    first = {writer.key([1, i], [2]): (-float(i), True) for i in range(500)}
    writer.put_many(first.items())
    assert len(list(tmp_path.rglob("*.json"))) == 1
    assert reader.get_many(first) == first
    later = {writer.key([2], [3]): (-2.5, False)}
    writer.put_many(later.items())
    assert reader.get_many(later) == later


def test_model_identity_is_part_of_the_key(tmp_path):
    a, b = ScoreCache(tmp_path, "model-a"), ScoreCache(tmp_path, "model-b")
    key = a.key([1, 2], [3])
    a.put_many([(key, (-1.5, True))])
    assert a.get_many([key]) == {key: (-1.5, True)}
    assert b.get_many([b.key([1, 2], [3])]) == {b.key([1, 2], [3]): None}
    assert key != b.key([1, 2], [3])


def test_unreadable_shards_are_misses_said_once(tmp_path, caplog):
    writer = ScoreCache(tmp_path, "model-a")
    keys = [writer.key([1], [2]), writer.key([1], [3])]
    writer.put_many([(keys[0], (-1.0, True))])
    writer.put_many([(keys[1], (-2.0, False))])
    for shard, content in zip(sorted(tmp_path.rglob("*.json")), ("", '["not", "a shard"]'), strict=True):
        shard.write_text(content)  # an empty file, as a full disk leaves one, and a foreign one
    cache = ScoreCache(tmp_path, "model-a")
    with caplog.at_level("WARNING"):
        assert cache.get_many(keys) == {keys[0]: None, keys[1]: None}
    assert len([r for r in caplog.records if "unreadable score-cache shards" in r.message]) == 1
    cache.put_many([(keys[0], (-1.5, True))])
    assert ScoreCache(tmp_path, "model-a").get_many(keys[:1]) == {keys[0]: (-1.5, True)}
