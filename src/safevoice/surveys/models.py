"""Surveys and their answers.

Invariant: a stored answer is its ciphertext, its sealed keys and its survey, nothing else. No
day, no time, no sequence, no session, no case, no reporter: the random id is its only key and
the table is ``WITHOUT ROWID`` on SQLite, so neither a column nor the physical order says when
an answer came or which answers came from one person. (The proof-of-work challenge it spent is
kept apart, in ``spent_challenge``, with no reference to the answer.)
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import Date, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from safevoice.storage.base import ROW_TABLE_ARGS, Base, Blob, Json, RandomId


class Survey(Base):
    __tablename__ = "survey"
    __table_args__ = ROW_TABLE_ARGS

    id: Mapped[RandomId]
    # The member-signed document as received ({payload, signer, sig}); clients verify it.
    document: Mapped[Json]
    # published (visible to members, not answerable), open, closed.
    state: Mapped[str] = mapped_column(String(16))
    opens_on: Mapped[date] = mapped_column(Date)
    closes_on: Mapped[date] = mapped_column(Date)


class SurveyAnswer(Base):
    __tablename__ = "survey_answer"
    __table_args__ = ROW_TABLE_ARGS

    id: Mapped[RandomId]
    survey_id: Mapped[str] = mapped_column(
        String(43), ForeignKey("survey.id", ondelete="CASCADE"), index=True
    )
    # The answer as sent: {nonce, ct, wraps}, canonical JSON; only members can open it.
    sealed: Mapped[Blob]
