"""Event logs of a project: a recorder that writes one operation's timed steps, and the reads behind
`GET …/event_logs` and `GET …/event_logs/{event_id}` (spec: "Event Logs API").

    recorder = event_start(project=project, type="inference", data={"model": "smollm2"})
    recorder.sub("inference_start", model="smollm2")
    ...
    recorder.finish(summary={"model": "smollm2", "tokens": 42}, tokens={"prompt": 10, ...})
    # or recorder.fail("backend died", stage="inference")

Each call is one small transaction of single-row statements (a sub-event is an INSERT plus the
atomic increment of its event's counter that numbers it), so a recorder's steps are in the database
as they happen (a crashed run leaves a "running" event with the steps it got through), and
`event_resume` lets other processes add to the same event (a dataset run's file jobs). Recording is
observability, never the operation itself: a recorder never raises into its caller — a failed
write is logged once and the recorder stops writing. From async code use the `a…` twins
(`aevent_start`, `asub`, `afinish`, `afail`), which run the same writes in Django's sync thread.

A short operation of one process on a hot path (a chat completion) starts its event `buffered`:
its steps are kept in memory, with the time each happened, and written together — the event row
and all its sub-events in one transaction — by `flush()` (e.g. once a stream has started, so that a
long answer shows as "running") and by the finish or failure. One write per request instead of one
per step; the price is that a process that dies before the end leaves no trace of the event.

Upstream LlamaFarm keeps its event log as JSON files per project; here it is two tables
(`EventLog`, `SubEvent`) pruned after MODELYARD_EVENT_LOG_RETENTION_DAYS.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import time
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from apps.core.errors import Invalid, NotFound
from apps.projects.models import EventLog, Project, SubEvent

logger = logging.getLogger(__name__)

EVENT_TYPE_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,49}$")
LIST_LIMIT_DEFAULT = 10
LIST_LIMIT_MAX = 100


def event_id_new(*, type: str, at: datetime) -> str:
    """The spec's event id: "evt_YYYYMMDD_HHMMSS_<type>_<6 hex>" with the UTC time `at`."""
    return f"evt_{at.astimezone(UTC):%Y%m%d_%H%M%S}_{type}_{secrets.token_hex(3)}"


class _LenientEncoder(DjangoJSONEncoder):
    """DjangoJSONEncoder (datetimes, UUIDs, Decimals), and `str()` of anything else."""

    def default(self, o: Any) -> Any:
        try:
            return super().default(o)
        except TypeError:
            return str(o)


def _json_safe(value: Any) -> Any:
    """`value` as plain JSON types, so a recorder's data never fails to store."""
    return json.loads(json.dumps(value, cls=_LenientEncoder))


class EventRecorder:
    """Writes one event and its sub-events as they happen. Never raises into the caller.

    `event_id` is known from the start (also when the first write failed), so a caller can hand it
    to the client before the operation ends. Made by `event_start` (a new event) or `event_resume`
    (one started elsewhere: a dataset run's file jobs on other workers add to the run's event).
    Sub-events get their ordinal from the event row (an atomic increment), so recorders of one event
    in several processes number them without gaps or collisions.
    """

    def __init__(
        self,
        *,
        event_id: str,
        type: str,
        started_at: datetime,
        data: dict[str, Any] | None = None,
        row_id: int | None = None,
        project: Project | None = None,
    ) -> None:
        self.event_id = event_id
        self.type = type
        self.started_at = started_at
        self._started = time.monotonic()
        self._resumed = row_id is not None
        self._data: dict[str, Any] = dict(data or {})
        self._row_id = row_id
        self._broken = False
        self._done = False
        # Buffered (`project` given): the row is not written yet; sub-events wait here as
        # (name, timestamp, elapsed ms, JSON-safe data) until `flush` or the end writes them.
        self._project = project
        self._pending: list[tuple[str, datetime, float, Any]] = []

    # --- public API -------------------------------------------------------------------------
    @property
    def data(self) -> dict[str, Any]:
        """A copy of the event's data as this recorder knows it (what it started or resumed with)."""
        return dict(self._data)

    @property
    def elapsed_ms(self) -> float:
        """Milliseconds since the event started (monotonic clock; the wall clock for a resumed event)."""
        if self._resumed:
            return round((timezone.now() - self.started_at).total_seconds() * 1000, 3)
        return round((time.monotonic() - self._started) * 1000, 3)

    @property
    def buffered(self) -> bool:
        """Whether steps are kept in memory until `flush` or the end (`event_start(buffered=True)`)."""
        return self._project is not None

    def sub(self, name: str, **data: Any) -> None:
        """Record a step `name` now: its timestamp, ms since the event started, and `data`
        (buffered: kept in memory, written by `flush` or the end)."""
        if self.buffered:
            self._hold(name, self.elapsed_ms, data)
            return
        self._write("sub", self._insert_sub, name, self.elapsed_ms, data)

    def flush(self) -> None:
        """Write what a buffered recorder holds — the event row (status "running") when not written
        yet, and the sub-events so far — in one transaction. A no-op for an unbuffered recorder,
        after the end, or when nothing is pending."""
        if not self.buffered or self._done or (self._row_id is not None and not self._pending):
            return
        self._write_buffered("flush", self._flush_rows, None)

    def finish(self, *, summary: dict[str, Any] | None = None, final_sub: str | None = None, **data: Any) -> bool:
        """End the event as completed: merge `data` into its data, set `duration_ms` (also into the
        data and the summary, as the spec shows it in both); with `final_sub`, also a last sub-event
        of that name carrying `data`. Only the first finish/fail of an event counts, whichever
        process makes it; returns whether this call ended the event."""
        return self._end(EventLog.STATUS_COMPLETED, summary, data, final_sub)

    def fail(self, error: str, *, summary: dict[str, Any] | None = None, **data: Any) -> bool:
        """End the event as failed: a "failed" sub-event with `error` and `data`, the error in the
        event's data and summary, status "failed". Returns whether this call ended the event."""
        summary = {**(summary or {}), "error": error}
        return self._end(EventLog.STATUS_FAILED, summary, {"error": error, **data}, "failed")

    async def asub(self, name: str, **data: Any) -> None:
        """`sub` from async code (buffered: no thread hop, nothing is written)."""
        if self.buffered:
            self.sub(name, **data)
            return
        await sync_to_async(self.sub)(name, **data)

    async def aflush(self) -> None:
        """`flush` from async code."""
        if self.buffered and not self._done:
            await sync_to_async(self.flush)()

    async def afinish(self, *, summary: dict[str, Any] | None = None, **data: Any) -> bool:
        """`finish` from async code."""
        return await sync_to_async(self.finish)(summary=summary, **data)

    async def afail(self, error: str, **data: Any) -> bool:
        """`fail` from async code."""
        return await sync_to_async(self.fail)(error, **data)

    # --- writes -----------------------------------------------------------------------------
    def _end(self, status: str, summary: dict[str, Any] | None, data: dict[str, Any], final_sub: str | None) -> bool:
        if self._done:
            return False
        self._done = True
        duration = self.elapsed_ms
        self._data.update(data)
        self._data["duration_ms"] = duration
        summary = {**(summary or {}), "duration_ms": duration}
        ended: list[bool] = []
        if self.buffered:
            if final_sub is not None:
                self._hold(final_sub, duration, data)
            end = {"status": status, "summary": _json_safe(summary), "duration_ms": duration}
            self._write_buffered("finish", self._flush_rows, end, ended)
            return ended == [True]
        self._write("finish", self._update_row, status, summary, duration, final_sub, data, ended)
        return ended == [True]

    def _hold(self, name: str, elapsed: float, data: dict[str, Any]) -> None:
        if not self._broken:
            self._pending.append((name, timezone.now(), elapsed, _json_safe(data)))

    def _write_buffered(self, what: str, write: Any, *args: Any) -> None:
        if not self._broken:
            self._attempt(what, write, *args)
        self._pending = []

    def _flush_rows(self, end: dict[str, Any] | None, ended: list[bool] | None = None) -> None:
        """The buffered writes: the row (inserted, or updated with the end), then the pending
        sub-events numbered after those already written, in one bulk insert."""
        assert self._project is not None
        pending, first = self._pending, 1
        fields = end or {}
        if self._row_id is None:
            row = EventLog.objects.create(
                project=self._project,
                event_id=self.event_id,
                type=self.type,
                timestamp=self.started_at,
                data=_json_safe(self._data),
                sub_event_count=len(pending),
                **{"status": EventLog.STATUS_RUNNING, **fields},
            )
            self._row_id = row.pk
        else:
            update = {"sub_event_count": F("sub_event_count") + len(pending)}
            if end is not None:
                update["data"] = _json_safe(self._data)
            counted = EventLog.objects.filter(pk=self._row_id, status=EventLog.STATUS_RUNNING).update(
                **update, **fields
            )
            if not counted:  # deleted meanwhile, or ended by someone else
                if ended is not None:
                    ended.append(False)
                return
            first = EventLog.objects.values_list("sub_event_count", flat=True).get(pk=self._row_id) - len(pending) + 1
        SubEvent.objects.bulk_create(
            SubEvent(
                event_id=self._row_id, ordinal=first + index, name=name, timestamp=at, elapsed_ms=elapsed, data=data
            )
            for index, (name, at, elapsed, data) in enumerate(pending)
        )
        if ended is not None:
            ended.append(True)

    def _create_row(self, project: Project) -> None:
        row = EventLog.objects.create(
            project=project,
            event_id=self.event_id,
            type=self.type,
            timestamp=self.started_at,
            status=EventLog.STATUS_RUNNING,
            data=_json_safe(self._data),
        )
        self._row_id = row.pk

    def _insert_sub(self, name: str, elapsed: float, data: dict[str, Any]) -> None:
        table = connection.ops.quote_name(EventLog._meta.db_table)
        with connection.cursor() as cursor:
            # The row lock this takes also orders sub-events of one event written by several processes.
            cursor.execute(
                f"UPDATE {table} SET sub_event_count = sub_event_count + 1 WHERE id = %s RETURNING sub_event_count",
                [self._row_id],
            )
            counted = cursor.fetchone()
        if counted is None:
            raise EventLog.DoesNotExist(f"event {self.event_id} was deleted")
        SubEvent.objects.create(
            event_id=self._row_id,
            ordinal=counted[0],
            name=name,
            timestamp=timezone.now(),
            elapsed_ms=elapsed,
            data=_json_safe(data),
        )

    def _update_row(
        self,
        status: str,
        summary: dict[str, Any],
        duration: float,
        final_sub: str | None,
        sub_data: dict[str, Any],
        ended: list[bool],
    ) -> None:
        # Only a running event is ended: of two processes finishing one event, the second changes nothing.
        changed = EventLog.objects.filter(pk=self._row_id, status=EventLog.STATUS_RUNNING).update(
            status=status, summary=_json_safe(summary), data=_json_safe(self._data), duration_ms=duration
        )
        if changed and final_sub is not None:
            self._insert_sub(final_sub, duration, sub_data)
        ended.append(bool(changed))

    def _write(self, what: str, write: Any, *args: Any) -> None:
        if self._broken or self._row_id is None:
            return
        self._attempt(what, write, *args)

    def _attempt(self, what: str, write: Any, *args: Any) -> None:
        try:
            # Its own (sub-)transaction: a failed write inside a caller's atomic block rolls back
            # only itself, never the caller's work.
            with transaction.atomic():
                write(*args)
        except Exception:
            # Logged once: after a failed write the recorder goes quiet rather than flood the log.
            self._broken = True
            logger.exception("event log %s: could not write %s; recording stops for this event", self.event_id, what)


def event_start(
    *, project: Project, type: str, data: dict[str, Any] | None = None, buffered: bool = False
) -> EventRecorder:
    """Start recording an event of `type` ("inference", "rag_processing"…; lower-case letters,
    digits and "_", else ValueError) for `project` with its initial `data`; the row is written now
    with status "running" — or, `buffered`, at the first `flush` or the end, together with the
    sub-events (see the module docstring). Never raises for a database failure (it is logged; the
    recorder then records nothing)."""
    if not EVENT_TYPE_PATTERN.match(type):
        raise ValueError(f"event type {type!r} must be lower-case letters, digits and '_'")
    started_at = timezone.now()
    recorder = EventRecorder(
        event_id=event_id_new(type=type, at=started_at),
        type=type,
        started_at=started_at,
        data=data,
        project=project if buffered else None,
    )
    if not buffered:
        recorder._attempt("start", recorder._create_row, project)
    return recorder


def event_resume(*, event_id: str) -> EventRecorder:
    """A recorder for the event `event_id` started elsewhere (another process), to add sub-events
    or end it. An event that is gone (pruned, its project deleted) gives a recorder that records
    nothing; so does a database failure (logged)."""
    try:
        row = EventLog.objects.filter(event_id=event_id).values("pk", "type", "timestamp", "data").first()
    except Exception:
        logger.exception("event log %s: could not be read; recording stops for this event", event_id)
        row = None
    if row is None:
        return EventRecorder(event_id=event_id, type="", started_at=timezone.now())
    return EventRecorder(
        event_id=event_id, type=row["type"], started_at=row["timestamp"], data=row["data"], row_id=row["pk"]
    )


async def aevent_start(*, project: Project, type: str, data: dict[str, Any] | None = None) -> EventRecorder:
    """`event_start` from async code."""
    return await sync_to_async(event_start)(project=project, type=type, data=data)


# --- reads ---------------------------------------------------------------------------------------
def event_logs_list(
    *,
    project: Project,
    type: str | None = None,
    start_time: datetime | None = None,
    end_time: datetime | None = None,
    limit: int = LIST_LIMIT_DEFAULT,
    offset: int = 0,
) -> tuple[int, list[EventLog]]:
    """The project's events, newest first, filtered by `type` and `start_time` <= timestamp <=
    `end_time` (aware datetimes). Returns (total matching, the page of `limit` from `offset`).
    Raises `Invalid` for a limit outside 1-100 or a negative offset."""
    if not 1 <= limit <= LIST_LIMIT_MAX:
        raise Invalid(f"limit must be between 1 and {LIST_LIMIT_MAX}")
    if offset < 0:
        raise Invalid("offset must be 0 or more")
    events: QuerySet[EventLog] = EventLog.objects.filter(project=project)
    if type:
        events = events.filter(type=type)
    if start_time is not None:
        events = events.filter(timestamp__gte=start_time)
    if end_time is not None:
        events = events.filter(timestamp__lte=end_time)
    return events.count(), list(events.order_by("-timestamp", "-id")[offset : offset + limit])


def event_log_get(*, project: Project, event_id: str) -> EventLog:
    """The event `event_id` of `project` with its sub-events prefetched; `NotFound` when unknown
    (or another project's)."""
    event = EventLog.objects.filter(project=project, event_id=event_id).prefetch_related("sub_events").first()
    if event is None:
        raise NotFound(f"event {event_id!r} not found in project {project.scope}")
    return event


def event_log_detail(*, event: EventLog) -> dict[str, Any]:
    """`event` as the detail endpoint shows it: its fields, and `sub_events` in order, each with
    `elapsed_ms` (since the event started) and `duration_ms` (since the sub-event before it, as
    LlamaFarm's logger reports it)."""
    sub_events, previous = [], 0.0
    for sub in event.sub_events.all():
        sub_events.append(
            {
                "name": sub.name,
                "timestamp": sub.timestamp,
                "elapsed_ms": sub.elapsed_ms,
                "duration_ms": round(sub.elapsed_ms - previous, 3),
                "data": sub.data,
            }
        )
        previous = sub.elapsed_ms
    fields = ("event_id", "type", "timestamp", "status", "summary", "duration_ms", "data")
    return {**{name: getattr(event, name) for name in fields}, "sub_events": sub_events}


def sub_events_latest(*, event_id: str, names: Iterable[str], key: str) -> dict[Any, str]:
    """For the event `event_id`: the name of the last sub-event among `names` for each value of its
    `data[key]` (e.g. each file's latest outcome by its hash)."""
    rows = (
        SubEvent.objects.filter(event__event_id=event_id, name__in=list(names))
        .order_by("ordinal")
        .values_list(f"data__{key}", "name")
    )
    return dict(rows)


def event_logs_prune(*, retention_days: int | None = None, now: datetime | None = None) -> int:
    """Delete events (and their sub-events) older than `retention_days` (default the setting
    MODELYARD_EVENT_LOG_RETENTION_DAYS; 0 keeps everything). Returns how many events were deleted."""
    days = settings.MODELYARD_EVENT_LOG_RETENTION_DAYS if retention_days is None else retention_days
    if days <= 0:
        return 0
    cutoff = (now or timezone.now()) - timedelta(days=days)
    deleted, per_model = EventLog.objects.filter(timestamp__lt=cutoff).delete()
    return per_model.get(EventLog._meta.label, 0)
