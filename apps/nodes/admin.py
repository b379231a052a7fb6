import json

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.html import format_html

from apps.core.errors import DomainError
from apps.nodes import services
from apps.nodes.catalog import ATTENTION_FIELDS, REQUIREMENT_FIELDS, SHAPE_FIELDS
from apps.nodes.models import CatalogModel, Node


@admin.register(CatalogModel)
class CatalogModelAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "provider",
        "parameter_count",
        "params_b",
        "category",
        "context_length",
        "is_moe",
        "release_date",
        "enabled",
        "edited",
    ]
    list_filter = ["category", "provider", "is_moe", "weight_format", "enabled", "source"]
    search_fields = ["name", "provider", "architecture", "use_case"]
    list_editable = ["enabled"]
    date_hierarchy = "release_date"
    actions = ["enable_models", "disable_models", "forget_admin_edits"]
    readonly_fields = ["source", "admin_edited_fields", "catalog_version", "created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["name", "provider", "parameter_count", "category", "use_case", "release_date", "enabled"]}),
        ("Size", {"fields": ["params_b", "is_moe", "active_params_b", "num_experts", "active_experts"]}),
        ("Attention (sizes the KV cache)", {"fields": ATTENTION_FIELDS}),
        ("Shape (mixture-of-experts speed)", {"fields": SHAPE_FIELDS}),
        ("Memory at the default quantization", {"fields": REQUIREMENT_FIELDS}),
        ("More", {"fields": ["architecture", "license", "capabilities", "gguf_sources"]}),
        ("Catalog", {"fields": ["source", "admin_edited_fields", "catalog_version", "created_at", "updated_at"]}),
    ]

    @admin.display(description="edited in admin")
    def edited(self, row: CatalogModel) -> str:
        return ", ".join(row.admin_edited_fields or []) or "—"

    def save_model(self, request: HttpRequest, obj: CatalogModel, form: forms.ModelForm, change: bool) -> None:
        if change:
            services.catalog_model_record_admin_edit(row=obj, changed_fields=list(form.changed_data))
        else:
            obj.source = CatalogModel.Source.ADMIN
        super().save_model(request, obj, form, change)

    @admin.action(description="Enable selected models")
    def enable_models(self, request: HttpRequest, queryset: QuerySet[CatalogModel]) -> None:
        self.message_user(request, f"Enabled {queryset.update(enabled=True, updated_at=timezone.now())} model(s).")

    @admin.action(description="Disable selected models (left out of fit listings)")
    def disable_models(self, request: HttpRequest, queryset: QuerySet[CatalogModel]) -> None:
        self.message_user(request, f"Disabled {queryset.update(enabled=False, updated_at=timezone.now())} model(s).")

    @admin.action(description="Forget admin edits (the next catalog sync overwrites them)")
    def forget_admin_edits(self, request: HttpRequest, queryset: QuerySet[CatalogModel]) -> None:
        count = services.catalog_model_forget_admin_edits(rows=queryset)
        self.message_user(request, f"{count} model(s) will follow the catalog file again.")


class NodeAdminForm(forms.ModelForm):
    """Adding a node takes its URL; without a name, the node is asked for its own."""

    class Meta:
        model = Node
        fields = ["name", "url", "api_key", "enabled"]
        widgets = {"api_key": forms.PasswordInput(render_value=True)}

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        if "name" in self.fields:
            self.fields["name"].required = False
            self.fields["name"].help_text = "Leave empty to use the name the node reports on its /health."

    def clean(self) -> dict:
        data = super().clean()
        if self.instance.is_local:
            return data
        url = (data.get("url") or "").rstrip("/")
        if not url:
            self.add_error("url", "A remote node needs the URL of its node surface.")
            return data
        data["url"] = url
        if not data.get("name"):
            try:
                data["name"] = services.node_name_discover(url=url, api_key=data.get("api_key") or "")
            except DomainError as error:
                self.add_error("name", error.message)
        return data


@admin.register(Node)
class NodeAdmin(admin.ModelAdmin):
    form = NodeAdminForm
    list_display = ["name", "url", "is_local", "enabled", "health", "last_seen_at", "latency_ms", "gpu", "ram"]
    list_filter = ["status", "enabled", "is_local"]
    search_fields = ["name", "url"]
    actions = ["poll_now", "enable_nodes", "disable_nodes"]
    readonly_fields = [
        "is_local",
        "health",
        "os",
        "last_seen_at",
        "last_polled_at",
        "latency_ms",
        "consecutive_failures",
        "last_error",
        "hardware",
        "best_models",
    ]

    @admin.display(description="health", ordering="status")
    def health(self, node: Node) -> str:
        colors = {"healthy": "#2e7d32", "unreachable": "#c62828", "error": "#ef6c00"}
        return format_html('<b style="color:{}">{}</b>', colors.get(node.status, "#666"), node.get_status_display())

    @admin.display(description="GPU")
    def gpu(self, node: Node) -> str:
        system = node.system or {}
        if not system.get("has_gpu"):
            return system.get("backend") or "—"
        return f"{system.get('gpu_count', 1)}× {system.get('gpu_name')} ({system.get('total_gpu_vram_gb')} GB)"

    @admin.display(description="RAM free / total")
    def ram(self, node: Node) -> str:
        system = node.system or {}
        return f"{system['available_ram_gb']} / {system['total_ram_gb']} GB" if "total_ram_gb" in system else "—"

    @admin.display(description="hardware (last report)")
    def hardware(self, node: Node) -> str:
        return format_html("<pre>{}</pre>", json.dumps(node.system, indent=2)) if node.system else "—"

    @admin.display(description="its top models (last report)")
    def best_models(self, node: Node) -> str:
        if not node.top_models:
            return "—"
        lines = [
            f"{m.get('score')}  {m.get('name')}  {m.get('best_quant')}  {m.get('fit_level')}  "
            f"{m.get('estimated_tps')} tok/s"
            for m in node.top_models
        ]
        return format_html("<pre>{}</pre>", "\n".join(lines))

    def save_model(self, request: HttpRequest, obj: Node, form: forms.ModelForm, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if not change:
            job = services.nodes_poll_enqueue(names=[obj.name])
            self.message_user(request, f"Node {obj.name} added; polling it now (job {str(job.id)[:8]}).")

    @admin.action(description="Poll now")
    def poll_now(self, request: HttpRequest, queryset: QuerySet[Node]) -> None:
        names = list(queryset.values_list("name", flat=True))
        job = services.nodes_poll_enqueue(names=names)
        self.message_user(request, f"Polling {len(names)} node(s) in job {str(job.id)[:8]}; see Jobs for the result.")

    @admin.action(description="Enable selected nodes")
    def enable_nodes(self, request: HttpRequest, queryset: QuerySet[Node]) -> None:
        self.message_user(request, f"Enabled {queryset.update(enabled=True)} node(s).")

    @admin.action(description="Disable selected nodes (not polled, not placed on)")
    def disable_nodes(self, request: HttpRequest, queryset: QuerySet[Node]) -> None:
        self.message_user(request, f"Disabled {queryset.update(enabled=False)} node(s).")
