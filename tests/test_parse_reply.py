"""A reply is parsed into its response model by one rule wherever it is decoded: the normalizer
(results of a job, ``bk.decode``) and the Gemini decoder given the class report a reply that does
not fit in the same one line."""

from __future__ import annotations

from pydantic import BaseModel

import batchkit as bk
from batchkit._normalize import parse_reply
from batchkit.providers.gemini.results import decode_generate_content_response


class Trip(BaseModel):
    city: str
    days: int


def _gemini(text: str) -> bk.Result:
    response = {"candidates": [{"content": {"role": "model", "parts": [{"text": text}]},
                                "finishReason": "STOP"}]}
    return decode_generate_content_response("k", response, response_model=Trip)


def test_a_reply_that_does_not_fit_reads_the_same_from_both() -> None:
    text = '{"days": "many"}'  # two problems: city missing, days not a number
    plain = bk.Result("k", "succeeded", text=text)
    parse_reply(plain, Trip)
    decoded = _gemini(text)
    assert decoded.parsed is None and plain.parsed is None
    assert decoded.parse_error == plain.parse_error
    assert plain.parse_error is not None and plain.parse_error.endswith("(+1 more)")


def test_a_reply_that_fits_is_parsed_by_both() -> None:
    text = '{"city": "Oslo", "days": 3}'
    plain = bk.Result("k", "succeeded", text=text)
    parse_reply(plain, Trip)
    assert _gemini(text).parsed == plain.parsed == Trip(city="Oslo", days=3)


def test_a_reply_without_text_says_so() -> None:
    plain = bk.Result("k", "succeeded")
    parse_reply(plain, Trip)
    assert plain.parse_error == "the reply has no text to parse" and plain.parsed is None
