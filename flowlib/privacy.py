"""Small-cell suppression of published marts, protected against differencing.

Every published cell counts distinct pseudonymous ids. A mart's SQL marks its own
*primary* suppressions (a count below k, ``is_suppressed`` and ``suppression =
'primary'``) and keeps the raw values; this module, run by ``flowlib.models`` inside the
same transaction, then

0. hides the rows the disclosure settlement withheld for the period (``complement``, see
   below), so that the rules that follow treat them as hidden,
1. adds *secondary* suppressions so that no hidden value can be recovered by subtracting
   published cells from a published total (``margin`` headers, see below),
2. for roll-ups (week, month, fiscal year), first withholds every cell whose days were
   not all published (``additive`` header: the counts that add up over days, distinct
   visitors included because tourists rarely come back within a period; ``share``
   header), because a period total minus the published days would give back a hidden day,
3. ranks the published rows (``rank`` header) and finally nulls every value of a
   suppressed row (``suppress`` header). The rows stay, marked.

The rule for a margin (a set of *parts* that add up to a *total*): if the total is
published and any part is hidden, then at least two parts are hidden **and** the hidden
parts together hold at least k ids in every count of the ``counts`` header; otherwise the
smallest published part is hidden too (ties by key), and if no published part is left,
the total is hidden. A hidden total whose parts are all published is given back by their
sum, so one part (the smallest) is hidden with it. A margin whose total is *implied*
(next-facility probabilities reveal each origin's total) counts as published whenever one
of its parts is. Margins are re-checked until nothing changes, so margins that cross
(segment x destination) converge.
docs/routes.md states the rule and the relations it covers.

Header syntax (lines at the top of the model file)::

    -- keys: period_grain, period_start, source_kind, segment_kind, segment, facility_id
    -- counts: visitors
    -- suppress: visitors, entries
    -- margin: residence | vary segment_kind, segment | parts segment_kind = 'residence' | total segment_kind = 'all'
    -- margin: destinations | vary to_facility_id | parts true | total implied
    -- additive: entries
    -- share: next_probability of destinations
    -- rank: route_rank | within period_grain, period_start | order visitors desc, route | where route is not null

The rules see one table at a time. The last rule, :func:`settle`, sees what an outsider
sees: the whole open-data set a build would publish, audited by linear programming
(``flowlib.disclosure_audit``). Where a hidden cell can still be narrowed to less than k
(a pair's people pinned by the visitors of both its facilities, a withheld week pinned by
its days and segments), it withholds the complementary rows the audit's programs choose,
hiding the fewest people, and the build hides them again (step 0) until the audit passes.

The survey indicator and its drivers are estimated in Python (``flowlib.indicator``), not
by a mart's SQL; their rule is here too (:func:`answers_publishable`,
:func:`total_reveals_hidden_answers`), so that every suppression rule lives in this module.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb

log = logging.getLogger(__name__)

#: Columns every privacy-managed model must output.
FLAG_COLUMNS = ("is_suppressed", "suppression")
#: Period columns of roll-up marts; they do not identify a cell across periods.
PERIOD_KEYS = ("period_grain", "period_start", "day_type")


class PrivacySpecError(ValueError):
    """A model's privacy headers are incomplete or malformed."""


@dataclass(frozen=True)
class Margin:
    name: str
    vary: tuple[str, ...]
    parts: str
    #: SQL predicate selecting the total row; None = the total is implied by the parts
    total: str | None
    #: hide the total, not another part, to protect a hidden part ("complement total"): for
    #: totals whose parts another file publishes too (a part hidden here would still show there)
    complement_total: bool = False


@dataclass(frozen=True)
class Rank:
    column: str
    within: tuple[str, ...]
    order: str
    where: str = "true"


@dataclass(frozen=True)
class PrivacySpec:
    keys: tuple[str, ...]
    counts: tuple[str, ...]
    suppress: tuple[str, ...]
    margins: tuple[Margin, ...] = ()
    additive: tuple[str, ...] = ()
    #: (column, margin name): values that divide by the implied total of that margin
    shares: tuple[tuple[str, str], ...] = ()
    rank: Rank | None = None

    @classmethod
    def from_headers(cls, headers: dict[str, list[str]], where: str) -> PrivacySpec | None:
        """Build the spec from a model's header lines; None when the model publishes no cells."""
        if not any(key in headers for key in ("keys", "counts", "suppress", "margin")):
            return None

        def listed(key: str, required: bool = True) -> tuple[str, ...]:
            values = tuple(v.strip() for line in headers.get(key, []) for v in line.split(",") if v.strip())
            if required and not values:
                raise PrivacySpecError(f"{where}: privacy header '-- {key}:' is missing.")
            return values

        keys, counts, suppress = listed("keys"), listed("counts"), listed("suppress")
        margins = tuple(_parse_margin(line, where) for line in headers.get("margin", []))
        names = {m.name for m in margins}
        shares = []
        for line in headers.get("share", []):
            column, _, margin = line.partition(" of ")
            if margin.strip() not in names:
                raise PrivacySpecError(f"{where}: share '{line}' names no margin of this model.")
            shares.append((column.strip(), margin.strip()))
        for margin in margins:
            if not set(margin.vary) <= set(keys):
                raise PrivacySpecError(f"{where}: margin {margin.name} varies columns that are not keys.")
        rank = _parse_rank(headers["rank"][0], where) if headers.get("rank") else None
        return cls(keys, counts, suppress, margins, listed("additive", False), tuple(shares), rank)


def _fields(line: str) -> list[str]:
    return [part.strip() for part in line.split("|")]


def _parse_margin(line: str, where: str) -> Margin:
    name, *rest = _fields(line)
    parts = dict(p.split(" ", 1) for p in rest if " " in p)
    if not name or not {"vary", "parts", "total"} <= parts.keys():
        raise PrivacySpecError(f"{where}: margin '{line}' needs: name | vary ... | parts ... | total ...")
    total = parts["total"].strip()
    complement = parts.get("complement", "part").strip()
    if complement not in ("part", "total") or complement == "total" and total == "implied":
        raise PrivacySpecError(f"{where}: margin '{line}': complement is 'part' or, with a total row, 'total'.")
    return Margin(
        name,
        tuple(c.strip() for c in parts["vary"].split(",")),
        parts["parts"].strip(),
        None if total == "implied" else total,
        complement == "total",
    )


def _parse_rank(line: str, where: str) -> Rank:
    column, *rest = _fields(line)
    parts = dict(p.split(" ", 1) for p in rest if " " in p)
    if not {"within", "order"} <= parts.keys():
        raise PrivacySpecError(f"{where}: rank '{line}' needs: column | within ... | order ...")
    return Rank(
        column, tuple(c.strip() for c in parts["within"].split(",")), parts["order"].strip(), parts.get("where", "true").strip()
    )


def _partition(columns: list[str] | tuple[str, ...]) -> str:
    return ", ".join(columns) if columns else "true"


def _secondary_round(
    con: duckdb.DuckDBPyConnection,
    table: str,
    spec: PrivacySpec,
    margin: Margin,
    k: int,
    *,
    check: int | None = None,
    changed_since: int = 0,
) -> int:
    """One check of ``margin``: hide the cells that keep its hidden cells from being given
    back; returns how many were hidden.

    With ``check`` (the number of this check, counted by secondary_suppression in the
    table's column ``__hidden_at``), only the margin's groups holding a cell hidden at or
    after ``changed_since`` (0: every group) are read, and the cells hidden here are marked
    with ``check``.
    A group's verdict depends on its own cells only, and a group with no hidden cell hides
    nothing; so a group with no cell hidden since this margin's previous check (whose own
    hidings are marked with that check's number) would hide nothing again: the same cells
    as reading every group, in a fraction of the rows after the first check. Without
    ``check`` every group is read (the rule as stated; the tests' reference)."""
    group = [c for c in spec.keys if c not in margin.vary]
    total = margin.total or "false"
    first = spec.counts[0]
    # What the hidden parts hold for the attacker: the published total minus the published
    # parts (for distinct people this can be less than the sum of the hidden parts: a
    # visitor on two routes of one origin-destination counts once in its total), or,
    # without a total, the sum of the hidden parts.
    hidden_sums = ",\n".join(
        f"least(coalesce(sum({c}) filter (where is_part and is_suppressed), {k}), "
        f"coalesce(max({c}) filter (where is_total) "
        f"- coalesce(sum({c}) filter (where is_part and not is_suppressed), 0), {k})) as hidden_{i}"
        for i, c in enumerate(spec.counts)
    )
    too_small = " or ".join(f"hidden_{i} < {k}" for i in range(len(spec.counts)))
    total_known = "total_shown" if margin.total else "shown_parts >= 1"
    complement_total = "true" if margin.complement_total else "false"
    members = f"(coalesce(({margin.parts}), false) or coalesce(({total}), false))"
    mark = changed_groups = ""
    if check is not None:
        mark = f", __hidden_at = {check}"
        # Only groups with a shown cell are read: every cell this check hides is shown until
        # now, and a group's verdict depends on its own cells, so a group whose cells are all
        # hidden hides nothing. On a day most route cells are (96 % of the 442k cells of
        # routes_by_period at 2 M taps): a check read about a tenth of the rows.
        # The groups are found by a hash of their columns (null hashes to a constant): a
        # collision only adds a group, checked in full, never leaves one out.
        group_hash = f"hash({_partition(group)})"
        changed_groups = (
            f"\n                    and {group_hash} in (select {group_hash} from {table} where not is_suppressed and {members})"
        )
    if check is not None and changed_since > 0:
        # A margin's later checks read only the groups holding a cell hidden since its
        # previous check (its first reads every group with a shown cell: leaving out those
        # without a hidden cell cost about as much as reading them).
        changed_groups += (
            f"\n                    and {group_hash} in (select {group_hash} from {table} "
            f"where __hidden_at >= {changed_since} and {members})"
        )
    # A group's figures are aggregated per group (a hash aggregation) and joined to its shown
    # cells, the only ones a check can hide: windows over every cell of the groups cost about
    # five times as much where most cells are hidden (routes_by_period's routes check on a
    # 2 M-tap night, whose route cells are mostly hidden: 0.64 s against 0.13 s). Groups join
    # on their columns with nulls equal, as a window partition puts them.
    group_columns = [*group, "__margin_group"]
    same_group = " and ".join(f"shown.{c} is not distinct from groups.{c}" for c in group_columns)
    sql = f"""
        update {table} set is_suppressed = true, suppression = 'secondary'{mark}
        where __rid in (
            with members as (
                select __rid, {", ".join(spec.keys)}, {", ".join(spec.counts)}, is_suppressed,
                       true as __margin_group,
                       coalesce(({margin.parts}), false) as is_part,
                       coalesce(({total}), false) as is_total
                from {table}
                where {members}{changed_groups}
            ),
            groups as (
                select
                    {", ".join(group_columns)},
                    count(*) filter (where is_part and is_suppressed) as hidden_parts,
                    count(*) filter (where is_part and not is_suppressed) as shown_parts,
                    coalesce(bool_or(is_total and not is_suppressed), false) as total_shown,
                    coalesce(bool_or(is_total and is_suppressed), false) as total_hidden,
                    {hidden_sums}
                from members
                group by {", ".join(group_columns)}
            ),
            shown as (
                select
                    *,
                    row_number() over (
                        partition by {", ".join(group_columns)}, is_part
                        order by {first}, {", ".join(spec.keys)}
                    ) as pick
                from members
                where not is_suppressed
            ),
            grouped as (
                select shown.__rid, shown.is_part, shown.is_total, shown.pick, groups.*
                from shown
                inner join groups on {same_group}
            )
            select __rid from grouped
            where (
                -- a hidden part that the published total minus the shown parts would give back
                {total_known}
                and hidden_parts >= 1
                and (hidden_parts = 1 or {too_small})
                and ((is_part and pick = 1 and not {complement_total})
                     or ((shown_parts = 0 or {complement_total}) and is_total))
            ) or (
                -- a hidden total that the sum of its shown parts would give back
                total_hidden and hidden_parts = 0 and is_part and pick = 1
            )
        )
    """
    return int(con.execute(sql).fetchone()[0])


def secondary_suppression(con: duckdb.DuckDBPyConnection, table: str, spec: PrivacySpec, k: int, max_rounds: int = 1000) -> int:
    """Hide more cells until every margin satisfies the rule; returns how many were added."""
    if not spec.margins or not con.execute(f"select coalesce(bool_or(is_suppressed), false) from {table}").fetchone()[0]:
        return 0
    # Margins are checked in turn, round after round, until a whole round hides nothing. A
    # check depends only on the table, so once every margin has been checked since the last
    # cell was hidden the next round would hide nothing: stop there instead of running it
    # (the same checks in the same order, so the same cells, minus a round of no-ops).
    # A margin without parts in the table (the day types of a day's cells) hides nothing.
    margins = [m for m in spec.margins if con.execute(f"select bool_or(coalesce(({m.parts}), false)) from {table}").fetchone()[0]]
    if not margins:
        return 0
    # each cell's check of hiding (0: primary), so a check reads only the groups changed
    # since its margin's previous check (_secondary_round)
    con.execute(f"alter table {table} add column __hidden_at integer")
    con.execute(f"update {table} set __hidden_at = 0 where is_suppressed")
    try:
        added = 0
        unchanged_checks = 0
        previous_check = [0] * len(margins)
        for check in range(1, max_rounds * len(margins) + 1):
            which = (check - 1) % len(margins)
            changed = _secondary_round(con, table, spec, margins[which], k, check=check, changed_since=previous_check[which])
            previous_check[which] = check
            added += changed
            unchanged_checks = 0 if changed else unchanged_checks + 1
            if unchanged_checks == len(margins):
                return added
        raise RuntimeError(f"secondary suppression on {table} did not converge in {max_rounds} rounds.")
    finally:
        con.execute(f"alter table {table} drop column __hidden_at")


def _cell_keys(spec: PrivacySpec, exclude: tuple[str, ...] = ()) -> list[str]:
    return [c for c in spec.keys if c not in PERIOD_KEYS and c not in exclude]


def withhold_across_days(con: duckdb.DuckDBPyConnection, table: str, mart: str, spec: PrivacySpec) -> int:
    """In a roll-up, null the additive counts of cells with a hidden day; returns rows changed.

    A week's transitions are the sum of its days' transitions, so publishing the week next
    to six published days would give back a hidden seventh. Additive values of a period cell
    are therefore published only when every day cell with the same key (and day type) was
    published; the cell is marked ``suppression = 'partial'``. A share of an implied total
    (next-facility probability) is kept only when, besides, every day of the period had a
    published part in that margin (so that the period's total is itself derivable from
    published days).
    """
    if not spec.additive and not spec.shares:
        return 0
    keys = _cell_keys(spec)
    match = " and ".join(f"d.{c} is not distinct from s.{c}" for c in keys) or "true"
    day_rows = f"""
        select d.*, c.day_type as type_of_day
        from {mart} as d
        inner join ref.calendar as c on c.calendar_date = d.period_start
        where d.period_grain = 'day' and d.day_type = 'all'
          and d.period_start between (select min(period_start) from {table})
                                 and (select max(period_end) from {table})
    """
    in_period = "d.period_start between s.period_start and s.period_end and (s.day_type = 'all' or s.day_type = d.type_of_day)"
    if not con.execute(f"select coalesce(bool_or(is_suppressed), false) from ({day_rows})").fetchone()[0]:
        return 0  # every day cell was published: nothing to withhold
    changed = 0
    if spec.additive:
        # the whole cell is withheld (is_suppressed, every value nulled at the end) and
        # counts as hidden in the margins that secondary suppression checks next
        changed += int(
            con.execute(f"""
            update {table} set is_suppressed = true, suppression = 'partial'
            where not is_suppressed and __rid in (
                select s.__rid from {table} as s inner join ({day_rows}) as d on {match} and {in_period}
                where d.is_suppressed
            )
        """).fetchone()[0]
        )
    margins = {m.name: m for m in spec.margins}
    for column, margin_name in spec.shares:
        margin = margins[margin_name]
        group = _cell_keys(spec, margin.vary)
        group_match = " and ".join(f"d.{c} is not distinct from s.{c}" for c in group) or "true"
        changed += int(
            con.execute(f"""
            update {table} set {column} = null, suppression = 'partial'
            where not is_suppressed and {column} is not null and __rid in (
                select s.__rid
                from {table} as s
                inner join (
                    select {", ".join(f"d.{c}" for c in group) + ", " if group else ""}
                           d.period_start, d.type_of_day, bool_or(not d.is_suppressed) as any_shown
                    from ({day_rows}) as d
                    where {margin.parts}
                    group by all
                ) as d on {group_match} and {in_period}
                where not d.any_shown
            )
        """).fetchone()[0]
        )
    return changed


def rank_published(con: duckdb.DuckDBPyConnection, table: str, rank: Rank) -> None:
    """Number the published rows (1 = first by the rank's order); hidden rows stay unranked."""
    con.execute(f"""
        update {table} set {rank.column} = ranked.position
        from (
            select __rid, row_number() over (partition by {_partition(rank.within)} order by {rank.order}) as position
            from {table}
            where not is_suppressed and ({rank.where})
        ) as ranked
        where {table}.__rid = ranked.__rid
    """)


def null_suppressed(con: duckdb.DuckDBPyConnection, table: str, spec: PrivacySpec) -> None:
    """Blank every published value of a suppressed row; the row and its keys remain."""
    if spec.suppress:
        con.execute(f"update {table} set {', '.join(f'{c} = null' for c in spec.suppress)} where is_suppressed")


#: rows the disclosure settlement withholds (sql/warehouse/03_ops.sql)
WITHHELD_TABLE = "ops.withheld_cells"
#: separates the key values of a withheld row (a character no key holds)
KEY_SEPARATOR = "\x1f"


def cell_key(values: Iterable[str]) -> str:
    """A row's key as stored in ``ops.withheld_cells``: its key values as the open-data files
    write them (a null as an empty string), in the order of the mart's ``-- keys:`` header."""
    return KEY_SEPARATOR.join(values)


def cell_key_sql(keys: Iterable[str]) -> str:
    # cast renders a date (ISO) and an integer as csv_cell writes them
    values = ", ".join(f"coalesce(cast({column} as varchar), '')" for column in keys)
    return f"concat_ws(chr({ord(KEY_SEPARATOR)}), {values})"


def withhold_settled(con: duckdb.DuckDBPyConnection, table: str, mart: str, spec: PrivacySpec) -> int:
    """Hide the rows the disclosure settlement chose for ``mart`` (``suppression =
    'complement'``), before the other rules: they then count as hidden in the margins and
    in the periods containing them, like a primary cell."""
    schema, name = WITHHELD_TABLE.split(".")
    exists = con.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?", [schema, name]
    ).fetchone()[0]
    rows = con.execute(f"select cell_key from {WITHHELD_TABLE} where mart = ?", [mart]).fetchall() if exists else []
    if not rows:
        return 0
    return int(
        con.execute(
            f"""
            update {table} set is_suppressed = true, suppression = 'complement'
            where not is_suppressed and {cell_key_sql(spec.keys)} in (select unnest(?::varchar[]))
            """,
            [[row[0] for row in rows]],
        ).fetchone()[0]
    )


def protect(
    con: duckdb.DuckDBPyConnection, table: str, spec: PrivacySpec, k: int, mart: str | None = None, rollup: bool = False
) -> dict[str, int]:
    """Run every step on a staged model output (a table with a ``__rid`` row id)."""
    complement = withhold_settled(con, table, mart, spec) if mart else 0
    # a period cell with a hidden day is withheld first, so that the margins below count
    # it as hidden (a period total minus its published days would give the day back)
    partial = withhold_across_days(con, table, mart, spec) if rollup and mart else 0
    secondary = secondary_suppression(con, table, spec, k)
    if spec.rank:
        rank_published(con, table, spec.rank)
    null_suppressed(con, table, spec)
    return {"secondary": secondary, "partial": partial, "complement": complement}


# ----------------------------------------------------------------------------- survey answers


def answers_publishable(respondents: int, satisfied: int, k: int) -> bool:
    """Head counts of answers are published when the respondents, the satisfied and the
    not-satisfied answers are each at least k (published respondents and satisfied give
    the third)."""
    return min(respondents, satisfied, respondents - satisfied) >= k


def total_reveals_hidden_answers(segments: Iterable[tuple[int, int]], k: int) -> bool:
    """True when some segment of a total, given as (respondents, satisfied), has head counts
    that are not publishable: the total minus the published segments would then recover
    them, so the total is withheld (its share and interval pin down its n, so the whole
    total row goes)."""
    return any(not answers_publishable(respondents, satisfied, k) for respondents, satisfied in segments)


# ----------------------------------------------------------------------------- settlement

#: rounds of the settlement before a build gives up (each withholds more rows)
SETTLEMENT_ROUNDS = 8


class DisclosureSettlementError(RuntimeError):
    """The rules and the complements could not protect every hidden cell."""


def forget_withheld(con: duckdb.DuckDBPyConnection, days: Iterable[date]) -> int:
    """Before a build of ``days``: forget the withheld rows of those days and of every period
    containing one of them, which the build recomputes and the settlement settles anew (so
    that a rebuild gives what a first build gives)."""
    days = sorted(set(days))
    if not days:
        return 0
    return int(
        con.execute(
            f"""
            delete from {WITHHELD_TABLE}
            where exists (select 1 from unnest(?::date[]) as d(day) where d.day between period_start and period_end)
            """,
            [days],
        ).fetchone()[0]
    )


def settle(
    con: duckdb.DuckDBPyConnection,
    k: int,
    write: Callable[[Path, Collection[str] | None], object],
    rebuild: Callable[[list[date], list[str]], Collection[str]],
    workers: int = 1,
    rounds: int = SETTLEMENT_ROUNDS,
    verdicts: Path | None = None,
) -> dict[str, object]:
    """The last rule of a build: audit what would be published and withhold complementary
    rows until no hidden cell can be narrowed to less than k.

    The margin and period rules above protect each table and each hierarchy on its own; an
    outsider combines every published file at once (a pair's people within the visitors of
    both its facilities, a week beside its days, revenue beside visitors). So the build
    writes the open-data set (``write``, into a scratch folder), audits it as the outsider
    would (:func:`flowlib.disclosure_audit.audit`: a linear program per hidden cell;
    ``write(folder, changed)`` writes the files of the relations ``changed`` since it last
    wrote that folder, every file when None), and
    for every exposed cell lets :func:`flowlib.disclosure_audit.complements` choose the
    published rows whose withholding widens it to k, hiding the fewest people. Those rows
    go into ``ops.withheld_cells``; ``rebuild(days, marts)`` rebuilds those marts (and what
    reads them) for their days and returns the relations it rebuilt, where
    :func:`withhold_settled` hides them and the rules above follow (a withheld day withholds
    its week). Withholding only widens what the outsider can infer, so the rounds end; the
    audit of the last round is the proof, and the nightly publication audits again (the
    same bytes: with ``verdicts``, the folder of passed audits, it finds this pass there;
    :mod:`flowlib.audit_verdicts`). Returns the rounds that withheld rows, the rows withheld
    and the audits' seconds.
    """
    import tempfile

    from flowlib.audit_verdicts import audit_once
    from flowlib.disclosure_audit import complements, relations, solver_pool

    seconds = 0.0
    withheld = 0
    changed: Collection[str] | None = None  # the first round writes every file
    # one pool for every round's audit, its processes starting while the first round writes
    with tempfile.TemporaryDirectory(prefix="flow-settle-") as scratch, solver_pool(workers) as pool:
        folder = Path(scratch)
        for number in range(1, rounds + 1):
            write(folder, changed)
            report = audit_once(folder, k, workers, verdicts, pool)
            seconds += report.seconds
            if report.ok:
                return {"rounds": number - 1, "withheld": withheld, "audit_seconds": round(seconds, 1)}
            if report.inconsistent_components:
                raise DisclosureSettlementError(
                    f"{report.inconsistent_components} part(s) of the published files contradict each other; "
                    "the audit cannot prove them safe (see the log of the audit)."
                )
            # a report that is not ok was solved here, from what it read (never a reused pass)
            rows, unresolved = complements(report.published or relations(folder), report)
            changed = _withhold(con, number, len(report.exposed), rows, unresolved, rebuild)
            withheld += len(rows)
    raise DisclosureSettlementError(f"the published files still expose cells after {rounds} rounds of complements.")


def _withhold(
    con: duckdb.DuckDBPyConnection,
    number: int,
    exposed: int,
    rows: list,
    unresolved: list,
    rebuild: Callable[[list[date], list[str]], Collection[str]],
) -> Collection[str]:
    """Round ``number``'s complements into ``ops.withheld_cells`` and their marts rebuilt;
    returns the relations rebuilt."""
    from flowlib.calendar import period_bounds

    if unresolved:
        raise DisclosureSettlementError(
            f"no published row can be withheld to protect {unresolved[0].describe()} "
            f"({len(unresolved)} such cell(s)); add the relation's rows to a mart's margins."
        )
    records = []
    for row in rows:
        grain, start = row.key[0], date.fromisoformat(row.key[1])
        end = period_bounds(grain, start)[1]
        records.append((row.mart, grain, start, end, cell_key(row.key), number))
    con.executemany(f"insert or ignore into {WITHHELD_TABLE} values (?, ?, ?, ?, ?, ?)", records)
    log.info("disclosure settlement round %d: %d exposed cell(s), %d row(s) withheld", number, exposed, len(rows))
    days = {record[2] if record[1] == "day" else record[3] for record in records}
    return rebuild(sorted(days), sorted({record[0] for record in records}))
