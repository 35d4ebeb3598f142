"""The response model used by the README quickstart and the spam example."""

from pydantic import BaseModel


class SpamLabel(BaseModel):
    spam: bool
    reason: str
