"""Declarative base, naming convention and the column types every model shares.

Constraint names come from one convention so migrations stay stable across databases. Tables
use random text keys and are created ``WITHOUT ROWID`` on SQLite (``ROW_TABLE_ARGS``), so the
physical order of rows says nothing about the order in which cases arrived (invariant 2).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from sqlalchemy import Date, DateTime, Integer, LargeBinary, MetaData, String, Text
from sqlalchemy.orm import DeclarativeBase, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite: no implicit rowid, so there is no hidden insertion counter.
ROW_TABLE_ARGS: dict[str, Any] = {"sqlite_with_rowid": False}

RandomId = Annotated[str, mapped_column(String(43), primary_key=True)]
Name = Annotated[str, mapped_column(String(64))]
Blob = Annotated[bytes, mapped_column(LargeBinary)]
Json = Annotated[str, mapped_column(Text)]
Day = Annotated[date, mapped_column(Date)]
Moment = Annotated[datetime, mapped_column(DateTime(timezone=True))]
Count = Annotated[int, mapped_column(Integer)]


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
