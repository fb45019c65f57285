"""After the daily run the storage does not tell in which order a day's cases, or a survey's
answers, arrived.

200 cases are written one transaction at a time in a known order, as submissions are; after
``retention run`` every order the storage exposes is compared with the order of arrival:
SQLite's rowids (where a table has them) and where each row lies in the database file (page and
place in the page, which is also the order of a raw dump), PostgreSQL's transaction ids
(``xmin``), physical places (``ctid``) and the order in which a plain scan, as ``pg_dump``'s
``COPY``, returns the rows. The rank correlation of each with the arrival order must be near
zero (for 200 unrelated orders it is within ±0.2 in all but a few runs in ten thousand).
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from pathlib import Path

from sqlalchemy import inspect, text

from safevoice.cli.retention import purge_all
from safevoice.clock import round_up, utcnow
from safevoice.instance.models import SpentChallenge
from safevoice.storage.db import Database
from safevoice.surveys.models import Survey, SurveyAnswer
from tests.support.workflow import insert_case, row_id

CASES = 200
LIMIT = 0.3  # 4 standard deviations of the rank correlation of 200 unrelated orders
# Tables that hold one row per case (or several), and the column naming the case.
CASE_COLUMNS = {"case_file": "id", "wrapped_key": "case_id", "status_change": "case_id"}


def ranks(values: list[float]) -> list[float]:
    order = sorted(range(len(values)), key=lambda i: values[i])
    result = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            result[order[k]] = (i + j) / 2  # ties share their mean rank
        i = j + 1
    return result


def rank_correlation(arrival: list[int], exposed: list[float]) -> float:
    """Spearman's rho; 0 when the exposed order holds no information (all values equal)."""
    a, b = ranks([float(x) for x in arrival]), ranks(exposed)
    mean_a, mean_b = sum(a) / len(a), sum(b) / len(b)
    cov = sum((x - mean_a) * (y - mean_b) for x, y in zip(a, b, strict=True))
    var_a = sum((x - mean_a) ** 2 for x in a)
    var_b = sum((y - mean_b) ** 2 for y in b)
    return 0.0 if var_a == 0 or var_b == 0 else cov / (var_a * var_b) ** 0.5


def sqlite_orders(
    database: Database, arrival: dict[str, int], columns: dict[str, str] = CASE_COLUMNS
) -> dict[str, list[tuple[int, float]]]:
    orders: dict[str, list[tuple[int, float]]] = {}
    with database.writer.connect() as connection:
        for table, column in columns.items():
            try:
                rows = connection.exec_driver_sql(
                    f'SELECT "{column}", rowid FROM "{table}"'  # noqa: S608 (names from the test)
                ).all()
            except Exception:  # noqa: BLE001 - a WITHOUT ROWID table has no rowid to expose
                connection.rollback()
                continue
            orders[f"{table}.rowid"] = [(arrival[c], float(r)) for c, r in rows if c in arrival]
        page_size = connection.exec_driver_sql("PRAGMA page_size").scalar_one()
        owner: dict[int, str] = {
            int(page): str(name)
            for page, name in connection.exec_driver_sql("SELECT pageno, name FROM dbstat")
        }
    path = database.sqlite_path
    assert path is not None
    assert database.wal_bytes() == 0  # everything is in the main file
    contents = path.read_bytes()
    for case_id, rank in arrival.items():
        needle, start, seen = case_id.encode(), 0, set()
        while (offset := contents.find(needle, start)) >= 0:
            start = offset + 1
            name = owner.get(offset // page_size + 1, "?")
            if name not in seen:  # the first place of this case in each table or index
                seen.add(name)
                orders.setdefault(f"{name} (place in the file)", []).append((rank, offset))
    return orders


def postgresql_orders(
    database: Database, arrival: dict[str, int], columns: dict[str, str] = CASE_COLUMNS
) -> dict[str, list[tuple[int, float]]]:
    orders: dict[str, list[tuple[int, float]]] = {}
    with database.writer.connect() as connection:
        for table, column in columns.items():
            rows = connection.exec_driver_sql(
                f'SELECT "{column}", xmin::text, ctid::text FROM "{table}"'  # noqa: S608 (names from the test)
            ).all()
            rows = [row for row in rows if row[0] in arrival]
            orders[f"{table}.xmin"] = [(arrival[c], float(x)) for c, x, _ in rows]
            places = [tuple(int(n) for n in ctid.strip("()").split(",")) for _, _, ctid in rows]
            orders[f"{table}.ctid"] = [
                (arrival[row[0]], place[0] * 1000 + place[1])
                for row, place in zip(rows, places, strict=True)
            ]
            orders[f"{table} (scan and dump order)"] = [
                (arrival[row[0]], float(n)) for n, row in enumerate(rows)
            ]
    return orders


def correlations_of(orders: dict[str, list[tuple[int, float]]]) -> dict[str, float]:
    found = {}
    for name, pairs in orders.items():
        if len(pairs) < CASES // 4:
            continue  # a stray match in another object, not an order of these rows
        ranks_, exposed = zip(*pairs, strict=True)
        found[name] = round(rank_correlation(list(ranks_), list(exposed)), 3)
    return found


def test_after_the_daily_run_no_order_in_storage_follows_the_order_of_arrival(
    database: Database, tmp_path: Path
) -> None:
    today = utcnow().date()
    arrival = {}
    for rank in range(CASES):
        # One transaction per case, as submissions arrive; some are acknowledged the next day.
        case_id = insert_case(database, today, ack_after=1 if rank % 3 == 0 else None)
        arrival[case_id] = rank
    assert len(inspect(database.writer).get_table_names()) > 10

    purge_all(database, f"fs:{tmp_path / 'blobs'}", now=utcnow() + timedelta(hours=1))

    orders = (sqlite_orders if database.sqlite else postgresql_orders)(database, arrival)
    assert {f"{t}" for t in CASE_COLUMNS} & {name.split(".")[0].split(" ")[0] for name in orders}
    correlations = correlations_of(orders)
    assert correlations
    assert {name: rho for name, rho in correlations.items() if abs(rho) > LIMIT} == {}, correlations
    with database.writer.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM case_file")).scalar_one() == CASES


def shared_transactions(database: Database) -> int:
    """PostgreSQL: how many stored answers carry the transaction id of a spent challenge."""
    with database.writer.connect() as connection:
        return int(
            connection.exec_driver_sql(
                "SELECT count(*) FROM survey_answer a"
                " JOIN spent_challenge c ON c.xmin::text = a.xmin::text"
            ).scalar_one()
        )


def test_after_the_daily_run_no_order_in_storage_follows_the_order_of_survey_answers(
    database: Database, tmp_path: Path
) -> None:
    today = utcnow().date()
    survey_id = row_id()
    with database.unit_of_work() as session:
        session.add(
            Survey(
                id=survey_id,
                document="{}",
                state="open",
                opens_on=today,
                closes_on=today + timedelta(days=7),
            )
        )
    # Each answer arrives in a transaction of its own with the challenge it spent, as
    # surveys.service.answer writes them; the challenges stay past the run (not yet expired).
    expires_at = round_up(utcnow() + timedelta(hours=3))
    arrival = {}
    for rank in range(CASES):
        answer_id = row_id()
        with database.unit_of_work() as session:
            session.add(SpentChallenge(digest=secrets.token_bytes(32), expires_at=expires_at))
            session.add(
                SurveyAnswer(id=answer_id, survey_id=survey_id, sealed=secrets.token_bytes(200))
            )
        arrival[answer_id] = rank
    if not database.sqlite:
        # Before the run each answer shares its transaction id with its spent challenge,
        # whose expiry dates it to the quarter hour, and the ids follow arrival.
        assert shared_transactions(database) == CASES

    purge_all(database, f"fs:{tmp_path / 'blobs'}", now=utcnow() + timedelta(hours=1))

    columns = {"survey_answer": "id"}
    orders = (sqlite_orders if database.sqlite else postgresql_orders)(database, arrival, columns)
    correlations = correlations_of(orders)
    assert any(name.startswith("survey_answer") for name in correlations), correlations
    assert {name: rho for name, rho in correlations.items() if abs(rho) > LIMIT} == {}, correlations
    with database.writer.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM survey_answer")).scalar_one() == CASES
        spent = connection.execute(text("SELECT count(*) FROM spent_challenge")).scalar_one()
    assert spent >= CASES
    if not database.sqlite:
        assert shared_transactions(database) == 0
