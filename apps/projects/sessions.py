"""Chat sessions of a project: the conversation history behind `X-Session-ID`, in Postgres.

Every process (web servers, workers) sees the same sessions. A session is expired once it has
been idle for MODELYARD_CHAT_SESSION_TTL_MIN minutes: its history is no longer used, and its rows
are deleted **on access** — when a request names it (chat, history, delete) and, for the project's
other expired sessions, whenever a chat opens a session (one indexed DELETE). There is no
periodic job: a session nobody names again stays until its project chats again or is deleted.

Only what the conversation said is stored — the request's user/assistant/tool messages and the
model's answer — never the project's prompts nor the RAG context of a turn (LlamaFarm keeps the
context in its history, which confuses small models as the history grows).
"""

import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from apps.core.errors import Invalid, NotFound
from apps.projects.models import ChatMessage, ChatSession, Project

SESSION_ID_MAX_LENGTH = 200
# Roles kept in a history: a system message of the request is the client's instruction for that
# turn (clients resend it), not part of the conversation.
STORED_ROLES = ("user", "assistant", "tool")


def _expired_before(now: datetime | None = None) -> datetime:
    return (now or timezone.now()) - timedelta(minutes=settings.MODELYARD_CHAT_SESSION_TTL_MIN)


def session_id_check(session_id: str) -> str:
    """`session_id` when it can be a session's id (1–200 printable ASCII characters, as an HTTP
    header carries it); Invalid (400) otherwise."""
    if not session_id or len(session_id) > SESSION_ID_MAX_LENGTH or not all(" " < c <= "~" for c in session_id):
        raise Invalid(f"X-Session-ID must be 1 to {SESSION_ID_MAX_LENGTH} printable ASCII characters without spaces")
    return session_id


def _live_session(*, project: Project, session_id: str) -> ChatSession | None:
    """The session if it exists and has not expired; an expired one is deleted (with its history)."""
    session = ChatSession.objects.filter(project=project, session_id=session_id).first()
    if session is not None and session.last_active_at < _expired_before():
        session.delete()
        return None
    return session


def _messages_of(session: ChatSession) -> list[dict[str, str]]:
    return [
        {"role": role, "content": content}
        for role, content in session.messages.order_by("ordinal").values_list("role", "content")
    ]


@transaction.atomic
def session_open(*, project: Project, session_id: str | None) -> tuple[ChatSession, list[dict[str, str]]]:
    """The session `session_id` of `project` and its history (`[{role, content}]`, oldest first).

    A missing id gets a new uuid; an unknown or expired one starts empty (the client's id is kept).
    The session counts as active from now. The project's other expired sessions are deleted here.
    Raises Invalid for an id no header could carry.
    """
    session_id = session_id_check(session_id) if session_id is not None else str(uuid.uuid4())
    now = timezone.now()
    ChatSession.objects.filter(project=project, last_active_at__lt=_expired_before(now)).delete()
    session, created = ChatSession.objects.get_or_create(
        project=project, session_id=session_id, defaults={"last_active_at": now}
    )
    if not created:
        ChatSession.objects.filter(pk=session.pk).update(last_active_at=now)
    return session, ([] if created else _messages_of(session))


@transaction.atomic
def session_append(*, session: ChatSession, messages: list[dict]) -> int:
    """Append the `messages` of one finished turn (`{role, content}`; roles other than user,
    assistant and tool are left out) to the session's history and mark it active. Content that is
    not text (a list of parts) is stored as its text parts joined. Returns how many were stored."""
    locked = ChatSession.objects.select_for_update().filter(pk=session.pk).first()
    if locked is None:  # deleted while the turn ran: the client asked for it to be forgotten
        return 0
    last = locked.messages.aggregate(last=Max("ordinal"))["last"] or 0
    rows = [
        ChatMessage(session=locked, ordinal=last + position, role=message["role"], content=message_text(message))
        for position, message in enumerate((m for m in messages if m.get("role") in STORED_ROLES), start=1)
    ]
    ChatMessage.objects.bulk_create(rows)
    ChatSession.objects.filter(pk=locked.pk).update(last_active_at=timezone.now())
    return len(rows)


def message_text(message: dict) -> str:
    """A message's content as text: a string as is, OpenAI's content parts as their text parts
    joined by newlines, None (an assistant message that only called tools) as ""."""
    content = message.get("content")
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    return "\n".join(part.get("text", "") for part in content if isinstance(part, dict) and part.get("type") == "text")


def session_history(*, project: Project, session_id: str) -> list[dict[str, str]]:
    """The history of a live session, oldest first. Raises NotFound for an unknown or expired one
    (an expired one is deleted)."""
    session = _live_session(project=project, session_id=session_id)
    if session is None:
        raise NotFound(f"Session {session_id} not found in project {project.scope}")
    return _messages_of(session)


def session_delete(*, project: Project, session_id: str) -> None:
    """Delete a session and its history. Raises NotFound for an unknown or expired one."""
    session = _live_session(project=project, session_id=session_id)
    if session is None:
        raise NotFound(f"Session {session_id} not found in project {project.scope}")
    session.delete()


def sessions_delete_all(*, project: Project) -> int:
    """Delete every session of the project with its history; how many sessions were deleted."""
    _deleted, per_model = ChatSession.objects.filter(project=project).delete()
    return per_model.get(ChatSession._meta.label, 0)
