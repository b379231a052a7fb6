"""Read-only views of the stored vectors: the project's config is the truth for databases, and
ingestion writes documents and chunks. Deleting a document here removes its chunks with it."""

from django.contrib import admin
from django.db.models import Count, QuerySet
from django.http import HttpRequest

from apps.rag.models import Chunk, Database, Document


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Database)
class DatabaseAdmin(ReadOnlyAdmin):
    list_display = ["name", "scope", "store_type", "distance_function", "dimension", "document_count", "updated_at"]
    list_filter = ["store_type", "distance_function", "dimension"]
    search_fields = ["scope", "name", "collection_name"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Database]:
        return super().get_queryset(request).annotate(document_total=Count("documents"))

    @admin.display(description="documents", ordering="document_total")
    def document_count(self, database: Database) -> int:
        return database.document_total


@admin.register(Document)
class DocumentAdmin(ReadOnlyAdmin):
    list_display = ["filename", "database", "dataset", "parser_used", "chunk_count", "size_bytes", "date_ingested"]
    list_filter = ["parser_used", "database__scope"]
    search_fields = ["filename", "file_hash", "dataset", "database__name", "database__scope"]
    list_select_related = ["database"]


@admin.register(Chunk)
class ChunkAdmin(ReadOnlyAdmin):
    list_display = ["document", "ordinal", "dimension", "database"]
    list_select_related = ["document", "database"]
    search_fields = ["text", "document__filename"]
    # The vector and the tsvector are long and say little to a person.
    exclude = ["embedding"]
    readonly_fields = ["database", "document", "ordinal", "text", "metadata", "dimension"]
