import json
from collections.abc import Callable

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from apps.chains import services
from apps.chains.models import ChainRun, RemoteHook
from apps.core.errors import DomainError


class RemoteHookForm(forms.ModelForm):
    """Checked by the same rules as the API (URL scheme, methods, built-in names, unique name)."""

    FIELDS = {"name": "name", "endpointUrl": "endpoint_url", "method": "method", "timeoutMs": "timeout_ms"}

    class Meta:
        model = RemoteHook
        fields = ["name", "endpoint_url", "method", "timeout_ms"]

    def clean(self) -> dict:
        data = super().clean()
        if self.errors:
            return data
        try:
            data.update(
                services.remote_hook_check(
                    hook_id=None if self.instance._state.adding else self.instance.pk,
                    name=data["name"],
                    endpoint_url=data["endpoint_url"],
                    method=data["method"],
                    timeout_ms=data["timeout_ms"],
                )
            )
        except DomainError as error:
            self.add_error(self.FIELDS.get(error.fields.get("field")), error.message)
        return data


@admin.register(RemoteHook)
class RemoteHookAdmin(admin.ModelAdmin):
    form = RemoteHookForm
    list_display = ["name", "method", "endpoint_url", "timeout_ms", "updated_at"]
    list_filter = ["method"]
    search_fields = ["name", "endpoint_url"]
    readonly_fields = ["id", "created_at", "updated_at"]
    fields = ["id", "name", "endpoint_url", "method", "timeout_ms", "created_at", "updated_at"]


def _pretty_json(attribute: str, description: str) -> Callable[[admin.ModelAdmin, ChainRun], str]:
    """A read-only admin field showing the JSON in `attribute`, indented."""

    @admin.display(description=description)
    def show(model_admin: admin.ModelAdmin, run: ChainRun) -> str:
        data = json.dumps(getattr(run, attribute), indent=2, ensure_ascii=False)
        return format_html("<pre style='white-space:pre-wrap;max-width:60em'>{}</pre>", data)

    return show


@admin.register(ChainRun)
class ChainRunAdmin(admin.ModelAdmin):
    list_display = ["short_id", "chain_id", "status", "mode", "steps", "duration", "error_excerpt", "created_at"]
    list_filter = ["status", "mode", "created_at"]
    search_fields = ["id", "chain_id", "description", "error"]
    date_hierarchy = "created_at"
    actions = ["run_again"]
    readonly_fields = [
        "id",
        "chain_id",
        "description",
        "status",
        "mode",
        "job",
        "steps",
        "duration",
        "created_at",
        "finished_at",
        "error",
        "input_type",
        "pretty_input",
        "output_type",
        "pretty_output",
        "pretty_state",
        "pretty_log",
        "pretty_definition",
    ]
    fieldsets = [
        (None, {"fields": ["id", "chain_id", "description", "status", "mode", "job", "steps", "duration"]}),
        ("Outcome", {"fields": ["error", "output_type", "pretty_output", "pretty_state", "pretty_log"]}),
        ("Request", {"fields": ["input_type", "pretty_input", "pretty_definition"]}),
        ("Times", {"fields": ["created_at", "finished_at"]}),
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # runs are made by POST /tasks

    def has_change_permission(self, request: HttpRequest, obj: ChainRun | None = None) -> bool:
        return False  # a record of what happened

    @admin.display(description="id")
    def short_id(self, run: ChainRun) -> str:
        return str(run.id)[:8]

    @admin.display(description="duration", ordering="duration_ns")
    def duration(self, run: ChainRun) -> str:
        return "—" if run.duration_ms is None else f"{run.duration_ms:g} ms"

    @admin.display(description="error")
    def error_excerpt(self, run: ChainRun) -> str:
        return run.error[:80] + ("…" if len(run.error) > 80 else "")

    pretty_input = _pretty_json("input", "input")
    pretty_output = _pretty_json("output", "output")
    pretty_state = _pretty_json("state", "state")
    pretty_log = _pretty_json("log", "print lines and alerts")
    pretty_definition = _pretty_json("definition", "chain")

    @admin.action(description="Run again in the background")
    def run_again(self, request: HttpRequest, queryset: QuerySet[ChainRun]) -> None:
        started, refused = 0, []
        for run in queryset:
            try:
                services.chain_run_again(run_id=run.pk)
                started += 1
            except DomainError as error:
                refused.append(f"{str(run.id)[:8]}: {error.message}")
        self.message_user(request, f"Queued {started} run(s)." + (" Refused: " + "; ".join(refused) if refused else ""))
