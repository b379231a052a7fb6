"""The model runtime in the admin: every servable stored model, whether the runtime has it loaded,
the memory it takes and its last use there, and an action that unloads it.

The models live in the runtime process, so the page asks it (`GET /v1/models` on the runtime port)
once per page; when the runtime does not answer, the page says so and shows the store's side only.
"""

from datetime import UTC, datetime

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse

from apps.core.errors import Unavailable
from apps.inference import remote
from apps.inference.models import RuntimeModel
from apps.modelstore import owners
from apps.modelstore.units import human_size_binary


@admin.register(RuntimeModel)
class RuntimeModelAdmin(admin.ModelAdmin):
    list_display = ["model_id", "source", "kind", "loaded", "memory", "runtime_last_use", "last_used"]
    search_fields = ["model_id"]
    actions = ["unload"]
    list_display_links = None

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: RuntimeModel | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: RuntimeModel | None = None) -> bool:
        return False  # deleting files is the model store's page

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        try:
            self._runtime = {item["id"]: item for item in remote.runtime_models()}
        except Unavailable as error:
            self._runtime = {}
            self.message_user(request, error.message, messages.WARNING)
        return super().changelist_view(request, extra_context)

    def get_queryset(self, request: HttpRequest) -> QuerySet[RuntimeModel]:
        # ML classifiers and forecasting checkpoints are the store's and their apps' pages, not the runtime's.
        return owners.owned_excluded(super().get_queryset(request)).order_by("model_id")

    def _item(self, model: RuntimeModel) -> dict:
        return getattr(self, "_runtime", {}).get(model.model_id, {})

    @admin.display(description="kind")
    def kind(self, model: RuntimeModel) -> str:
        return self._item(model).get("kind", "—")

    @admin.display(description="loaded", boolean=True)
    def loaded(self, model: RuntimeModel) -> bool | None:
        item = self._item(model)
        return item.get("loaded") if item else None

    @admin.display(description="memory")
    def memory(self, model: RuntimeModel) -> str:
        item = self._item(model)
        if item.get("memory_bytes"):
            return human_size_binary(item["memory_bytes"])
        if item.get("estimated_memory_bytes"):
            return f"~{human_size_binary(item['estimated_memory_bytes'])} (estimate)"
        return "—"

    @admin.display(description="last use in the runtime")
    def runtime_last_use(self, model: RuntimeModel) -> str:
        last = self._item(model).get("last_used")
        return datetime.fromtimestamp(last, UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if last else "—"

    @admin.action(description="Unload from the model runtime")
    def unload(self, request: HttpRequest, queryset: QuerySet[RuntimeModel]) -> None:
        for model in queryset:
            try:
                unloaded = remote.runtime_unload(model=model.model_id)
            except Unavailable as error:
                self.message_user(request, error.message, messages.ERROR)
                return
            state = "Unloaded from the model runtime" if unloaded else "Not loaded in the model runtime"
            self.message_user(request, f"{state}: {model.model_id}", messages.SUCCESS)
