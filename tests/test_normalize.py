"""The normalizer's promise, as properties: every request once, in order, whatever the vendor."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

import batchkit as bk
from batchkit._normalize import ModelResolver, ShardOutcome, normalize_shard
from batchkit._plan import RequestRecord
from batchkit.testing import FakeAdapter

ids = st.lists(st.text(min_size=1, max_size=12), min_size=1, max_size=40, unique=True)


@settings(max_examples=60, deadline=None)
@given(
    ids=ids,
    data=st.data(),
    state=st.sampled_from([bk.JobState.COMPLETED, bk.JobState.EXPIRED, bk.JobState.CANCELLED]),
)
def test_every_request_exactly_once_in_order(ids: list[str], data: st.DataObject,
                                             state: bk.JobState) -> None:
    returned = data.draw(st.lists(st.sampled_from(ids), max_size=60))  # any subset, dups, order
    strangers = data.draw(st.lists(st.text(min_size=1).filter(lambda s: s not in ids),
                                   max_size=3, unique=True))
    garbage = data.draw(st.integers(0, 3))
    lines = [json.dumps({"id": i, "text": f"t-{i}", "usage": {"input_tokens": 1}})
             for i in returned + strangers]
    lines += ["{not json"] * garbage
    tmp = Path("vendor-out.jsonl")  # the autouse fixture chdirs into a temp folder
    tmp.write_text("\n".join(lines) + "\n")
    records = [RequestRecord(n, cid, cid, {"n": n}, None, n + 1) for n, cid in enumerate(ids)]
    unmatched: list[object] = []
    out = list(normalize_shard(records, [tmp], FakeAdapter("m").decode,
                               ShardOutcome(state, {}), ModelResolver(), unmatched))
    assert [pos for pos, _ in out] == list(range(len(ids)))
    assert [r.custom_id for _, r in out] == ids
    for _, r in out:
        n = returned.count(r.custom_id)
        if n == 1:
            assert r.status == "succeeded" and r.text == f"t-{r.custom_id}"
        elif n > 1:
            assert r.error and r.error.code == "duplicate_result" and len(r.raw) == n
        else:
            expected = {bk.JobState.COMPLETED: "errored", bk.JobState.EXPIRED: "expired",
                        bk.JobState.CANCELLED: "cancelled"}[state]
            assert r.status == expected and r.error is not None
    assert len(unmatched) == len(strangers) + garbage


def test_offline_encode_then_decode(tmp_path: Path) -> None:
    requests = [bk.ChatRequest(custom_id=f"q{i}", messages=[{"role": "user", "content": "hi"}])
                for i in range(5)]
    payloads = bk.encode(requests, "fake:m", tmp_path / "out", options={"max_requests": 2})
    assert [p.name for p in payloads] == [f"shard-000{i}.payload.jsonl" for i in range(3)]
    out = tmp_path / "results.jsonl"
    rows = [json.dumps({"id": "q3", "text": "three", "usage": {}}),
            json.dumps({"id": "q0", "error": {"code": "server_error", "message": "boom"}})]
    out.write_text("\n".join(rows))
    results = bk.decode(out, "fake", requests)
    assert [r.custom_id for r in results] == [f"q{i}" for i in range(5)]
    assert [r.status for r in results] == ["errored", "errored", "errored", "succeeded", "errored"]
    assert results[0].error and results[0].error.code == "server_error"
    assert results[1].error and results[1].error.code == "missing_result"
