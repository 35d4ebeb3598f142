"""The planner's fast lane: runs of requests of one shape (``_shape``) planned a window at a
time, with the bytes and the errors of planning them one by one (``Planner.add``).

Why: planning one request cost about 7 µs, nearly all of it Python per-request overhead (the
vendor's checks, a dict per line and per index record, two buffered writes), several times
the JSON itself. In a window of up to ``WINDOW`` requests of one shape, each step is one
C-level pass over the window (reading the fields, checking the values' rules, splicing the
lines and index records into their templates, one write per file), and the requests of a
job are pulled ``WINDOW`` at a time, so memory stays flat.

What stays exact:

* A request that is not of a known shape, breaks a value rule the splice relies on, or whose
  line is over the provider's line limit or the model's context bound goes the whole way, so
  its error (or its line) is the one ``add`` gives, at its position. The requests before it in
  the window are planned first, as they would have been.
* Duplicate ids, ids the vendor rewrites onto another request's id, and ids equal but for
  case (where the vendor folds case) are checked for the window as sets; where one of them
  could fire, the whole window goes the whole way, which raises at the right request.
* Shards are cut where ``add`` cuts them (count, bytes, embedding inputs), and ``observe``
  sees every request sent, in order.

The lane is off for a job with a result cache or an enqueued-token limit (each request's key
or token count is its own work), and a shape whose requests may be copies of one another
(``dedupe`` at temperature 0, embeddings) takes the whole way, where copies are found.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Iterator
from itertools import accumulate, islice
from operator import itemgetter, ne
from typing import TYPE_CHECKING, Any

from ._shape import (
    ID,
    TEXT,
    VENDOR_ID,
    Shape,
    Vendor,
    inner,
    leading,
    learn_shape,
    shape_key,
    template,
)
from ._validate import MAX_BYTES_PER_TOKEN

if TYPE_CHECKING:
    from ._plan import OpenShard, Planner

__all__ = ["plan_all"]

WINDOW = 256
"""Requests pulled and planned at a time: big enough that a pass's setup is paid rarely,
small enough that the window's lists stay in the CPU cache."""
_SMALL_WINDOW = 16
"""The window after a run of a shape ended early: it doubles while runs fill it, so jobs that
mix shapes do not pay a full window's passes for every short run."""
_SHORT_RUN, _SHORT_RUNS, _MAX_SKIP = 8, 4, 4096
"""A run shorter than ``_SHORT_RUN``; how many in a row send requests the whole way; the
longest such stretch (see ``_Lane._count_run``)."""
MAX_SHAPES = 16
"""Shapes learnt per job at most (each costs a few dozen probe lines, ~0.5 ms): a job whose
requests do not repeat shapes stops learning."""
_ID_OF = itemgetter("custom_id")


def plan_all(planner: Planner, requests: Iterable[Any], fast: bool) -> None:
    """Plan every request of ``requests``, through the lane where ``fast`` and the job allow."""
    if not fast or planner.cache is not None or planner.queue is not None:
        for position, req in enumerate(requests):
            planner.add(position, req)
        return
    lane, position = _Lane(planner), 0
    for window in _windows(requests):
        lane.plan(window, position)
        position += len(window)


def _windows(requests: Iterable[Any]) -> Iterator[list[Any]]:
    """``requests`` ``WINDOW`` at a time. When the iterable raises (a bad row of
    ``ChatRequest.batch``, a reader's error), the requests it gave before are yielded first:
    planned one by one, they would have been planned (and could have failed) before it."""
    if isinstance(requests, list):
        for start in range(0, len(requests), WINDOW):
            yield requests[start:start + WINDOW]
        return
    pulled = iter(requests)
    while True:
        window: list[Any] = []
        try:
            window.extend(islice(pulled, WINDOW))
        except Exception:
            if window:
                yield window
            raise
        if not window:
            return
        yield window


class _Lane:
    """The shapes of one planning pass and the planner they write through."""

    def __init__(self, planner: Planner) -> None:
        self.planner = planner
        self.shapes: dict[tuple[Any, ...], Shape | None] = {}
        adapter, rules = planner.adapter, planner.model_rules

        def check(request: Any) -> None:  # what add() checks each request against
            planner.check_request(request)
            if rules is not None:
                rules.check(request)

        self.vendor = Vendor(check, planner.encode, adapter.vendor_id)
        self.text_bound = (None if rules is None or rules.max_input_tokens is None
                           else rules.max_input_tokens * MAX_BYTES_PER_TOKEN)
        """Lines longer than this may hold more text than the model's context window: each
        such request is measured the whole way (``ModelRules.check_size``)."""
        self.window = WINDOW
        self.last: Shape | None = None
        self.short_runs, self.skip, self.backoff = 0, 0, _SMALL_WINDOW

    def plan(self, requests: list[Any], start: int) -> None:
        """Plan ``requests``, the first at ``start`` (0-based) in the job."""
        at, planner = 0, self.planner
        while at < len(requests):
            if self.skip:  # a stretch of short runs: the whole way, for a while
                for offset in range(at, min(len(requests), at + self.skip)):
                    planner.add(start + offset, requests[offset])
                    self.skip, at = self.skip - 1, at + 1
                continue
            piece = requests[at:at + self.window]
            last = self.last  # the shape of the run before: most jobs have one
            done = 0 if last is None else self._run(last, piece, start + at)
            if not done:
                shape = self.last = self._shape_of(requests[at])
                if shape is not None and shape is not last:
                    done = self._run(shape, piece, start + at)
            if not done:
                planner.add(start + at, requests[at])
                done = 1
            self.window = min(WINDOW, self.window * 2) if done == len(piece) else _SMALL_WINDOW
            at += done
            self._count_run(done)

    def _count_run(self, done: int) -> None:
        """Back off from jobs whose shapes change every few requests: a short run costs the
        lane more than the whole way (a shape's lookup and a window's passes for one or two
        requests), so after ``_SHORT_RUNS`` of them in a row the next ``skip`` requests take
        the whole way, a stretch that doubles each time (up to ``_MAX_SKIP``) until a long
        run is seen again."""
        if done >= _SHORT_RUN:
            self.short_runs, self.backoff = 0, _SMALL_WINDOW
            return
        self.short_runs += 1
        if self.short_runs >= _SHORT_RUNS:
            self.skip, self.short_runs = self.backoff, 0
            self.backoff = min(2 * self.backoff, _MAX_SKIP)

    def _shape_of(self, request: Any) -> Shape | None:
        key = shape_key(request)
        if key is None:
            return None
        if key in self.shapes:
            return self.shapes[key]
        if len(self.shapes) >= MAX_SHAPES:
            return None
        shape = self.shapes[key] = self._learn(request)
        return shape

    def _learn(self, request: Any) -> Shape | None:
        planner = self.planner
        if planner.dedupe and (request.kind != "chat" or request.temperature == 0):
            return None  # its copies are found the whole way
        model = getattr(request, "response_model", None)
        shape = learn_shape(request, model and planner._model_path(model))
        if shape is not None:
            shape.group = planner.group(request) if planner.group else request.kind
        return shape

    def _run(self, shape: Shape, window: list[Any], start: int) -> int:
        """Plan the leading requests of ``window`` that are of ``shape`` and can be spliced;
        how many (0: the first takes the whole way)."""
        k, dicts, texts = shape.match(window)
        ids = list(map(_ID_OF, dicts))
        # a text the same in every request (a system prompt) is checked and written once
        same = [column.count(column[0]) == k for column in texts] if k else []
        k = Shape.usable(ids, [column[:1] if one else column
                               for column, one in zip(texts, same, strict=True)]) if k else 0
        if not k:
            return 0
        planner = self.planner
        vids, rewritten = ids, False
        if planner.vendor_id is not None:
            vids = list(map(planner.vendor_id, ids[:k]))
            flags = list(map(ne, vids, ids))
            rewritten = flags[0]
            k = leading(bool, flags, rewritten)
        if planner.group is not None:
            k = min(k, leading(planner.group, window[:k], shape.group))
        cut = template(shape, window[0], self.vendor, rewritten)
        if cut is None:
            return 0
        if k < len(ids):
            ids, vids, texts = ids[:k], vids[:k], [column[:k] for column in texts]
        try:
            columns: dict[int, list[bytes] | bytes] = {ID: inner(ids)}
            columns[VENDOR_ID] = inner(vids) if rewritten else columns[ID]
            for hole, column in enumerate(texts):
                columns[TEXT + hole] = inner(column[:1])[0] if same[hole] else inner(column)
        except TypeError:  # not valid Unicode (a lone surrogate): the whole way says so
            return 0
        payload = cut.lines(columns, k)
        json_ids: tuple[Any, Any] = (columns[ID], columns[VENDOR_ID])
        lines = None
        bound = planner.line_bound(shape.group) - 1
        if self.text_bound is not None:
            bound = min(bound, self.text_bound)
        if len(payload) > bound:  # some line may be over a bound: each is measured
            lines = payload.split(b"\n")[:-1]
            k = next((i for i, line in enumerate(lines) if len(line) > bound), k)
            if not k:
                return 0
            del ids[k:], vids[k:], lines[k:]
            payload = b"\n".join(lines) + b"\n"
            json_ids = (json_ids[0][:k], json_ids[1][:k])
        if not self._take_ids(ids, vids, rewritten, start):
            for offset, request in enumerate(window[:k]):
                planner.add(start + offset, request)
            return k
        self._commit(shape, window[:k], start, json_ids, payload, lines)
        return k

    def _take_ids(self, ids: list[str], vids: list[str], rewritten: bool, start: int) -> bool:
        """Whether no id of the window can be refused as taken (see above); if so they are
        taken, the first at position ``start``."""
        planner, k = self.planner, len(ids)
        seen, taken, rewrites = planner.seen, planner.lane_ids, planner.rewritten_ids
        if seen and not seen.keys().isdisjoint(ids):
            return False
        if rewritten:
            if len(set(vids)) != k or not rewrites.isdisjoint(vids) or not taken.isdisjoint(
                    vids) or not seen.keys().isdisjoint(vids) or not set(ids).isdisjoint(vids):
                return False
        elif rewrites and not rewrites.isdisjoint(ids):
            return False
        folded = planner.folded_ids
        folds = [] if folded is None else [vid.casefold() for vid in vids]
        if folded is not None and (len(set(folds)) != k or not folded.keys().isdisjoint(folds)):
            return False
        before = len(taken)
        taken.update(ids)  # one pass: an id taken before, or twice here, adds fewer than k
        if len(taken) != before + k:  # add() raises at it; the lane's earlier ids stay taken
            taken.difference_update(ids)
            taken.update(set().union(*(run for _, run in planner.lane_runs)).intersection(ids))
            return False
        planner.lane_runs.append((start, ids))
        if folded is not None:
            folded.update(zip(folds, ids, strict=True))
        if rewritten:
            rewrites.update(vids)
        return True

    def _commit(self, shape: Shape, requests: list[Any], start: int,
                ids: tuple[list[bytes], list[bytes]], payload: bytes,
                lines: list[bytes] | None) -> None:
        """Write the requests' lines and index records into their group's shards: the
        window's payload at once where the group's open shard takes all of it."""
        planner, k = self.planner, len(requests)
        if planner.observe is not None:
            for request in requests:
                planner.observe(request)
        inputs = shape_inputs(shape)
        current = planner.open_by_group.get(shape.group)
        if current is not None and self._room(current, k, len(payload), inputs):
            self._write(shape, current, payload, start, k, ids)
        else:  # cut where the shard fills up, as add() cuts
            if lines is None:
                lines = payload.split(b"\n")[:-1]
            sizes = list(map(len, lines))
            done = 0
            while done < k:
                take = 0 if current is None else self._fitting(current, sizes, done, inputs)
                if current is None or not take:
                    current = planner.open_shard(shape.group, current)
                    take = max(1, self._fitting(current, sizes, done, inputs))
                end = done + take
                self._write(shape, current, b"\n".join(lines[done:end]) + b"\n",
                            start + done, take, (ids[0][done:end], ids[1][done:end]))
                done = end
        planner.count = start + k

    @staticmethod
    def _write(shape: Shape, current: OpenShard, payload: bytes, start: int, k: int,
               ids: tuple[list[bytes], list[bytes]]) -> None:
        shard = current.shard
        current.payload.write(payload)
        current.index.write(shape.record.lines(start, ids[0], ids[1], shard.request_count + 1))
        shard.request_count += k
        shard.byte_count += len(payload)
        shard.embedding_inputs += k * shape_inputs(shape)

    @staticmethod
    def _room(current: OpenShard, k: int, size: int, inputs: int) -> bool:
        """Whether the shard takes ``k`` more lines of ``size`` bytes in all."""
        shard, limits = current.shard, current.limits
        return (shard.request_count + k <= limits.max_requests
                and shard.byte_count + size <= limits.max_bytes
                and (not inputs or limits.max_embedding_inputs is None
                     or shard.embedding_inputs + k * inputs <= limits.max_embedding_inputs))

    @staticmethod
    def _fitting(current: OpenShard, sizes: list[int], done: int, inputs: int) -> int:
        """How many of the lines from ``done`` on the shard takes, as ``fits`` counts them."""
        shard, limits = current.shard, current.limits
        take = min(len(sizes) - done, limits.max_requests - shard.request_count)
        if inputs and limits.max_embedding_inputs is not None:
            take = min(take, limits.max_embedding_inputs - shard.embedding_inputs)
        if take <= 0:
            return 0
        room = limits.max_bytes - shard.byte_count
        return bisect_right(list(accumulate(size + 1 for size in sizes[done:done + take])),
                            room)


def shape_inputs(shape: Shape) -> int:
    """Embedding inputs a request of ``shape`` counts toward a vendor's cap (one text)."""
    return 0 if shape.chat else 1
