"""The projects spec's Projects, Datasets, RAG and Tasks sections, on the platform surface.

Specific paths come before the ones they would match (`datasets/strategies` before `datasets/{dataset}`).
"""

from django.urls import re_path

from apps.projects.api import (
    chat_views,
    event_log_views,
    example_views,
    rag_views,
    system_views,
    task_views,
    views,
)

NAME = r"[^/]+"
PROJECT = rf"^v1/projects/(?P<namespace>{NAME})/(?P<project>{NAME})"
DATASET = rf"{PROJECT}/datasets/(?P<dataset>{NAME})"

urlpatterns = [
    # Examples and version check (apps.projects.examples, apps.projects.versions).
    re_path(r"^v1/examples/?$", example_views.ExampleListView.as_view(), name="examples"),
    re_path(
        rf"^v1/examples/(?P<example_id>{NAME})/datasets/?$",
        example_views.ExampleDatasetsView.as_view(),
        name="example-datasets",
    ),
    re_path(
        rf"^v1/examples/(?P<example_id>{NAME})/import-project/?$",
        example_views.ImportProjectView.as_view(),
        name="example-import-project",
    ),
    re_path(
        rf"^v1/examples/(?P<example_id>{NAME})/import-data/?$",
        example_views.ImportDataView.as_view(),
        name="example-import-data",
    ),
    re_path(
        rf"^v1/examples/(?P<example_id>{NAME})/import-dataset/?$",
        example_views.ImportDatasetView.as_view(),
        name="example-import-dataset",
    ),
    re_path(r"^v1/system/version-check/?$", system_views.VersionCheckView.as_view(), name="system-version-check"),
    re_path(rf"^v1/projects/(?P<namespace>{NAME})/?$", views.ProjectListView.as_view(), name="projects"),
    re_path(rf"{PROJECT}/?$", views.ProjectDetailView.as_view(), name="project"),
    re_path(rf"{PROJECT}/datasets/?$", views.DatasetListView.as_view(), name="datasets"),
    re_path(rf"{PROJECT}/datasets/strategies/?$", views.DatasetStrategiesView.as_view(), name="dataset-strategies"),
    re_path(rf"{DATASET}/?$", views.DatasetDetailView.as_view(), name="dataset"),
    re_path(rf"{DATASET}/data/?$", views.DatasetUploadView.as_view(), name="dataset-data"),
    re_path(rf"{DATASET}/data/(?P<file_hash>{NAME})/?$", views.DatasetFileView.as_view(), name="dataset-file"),
    # Dataset actions, tasks and RAG (apps.projects.processing, apps.projects.databases).
    re_path(rf"{DATASET}/actions/?$", task_views.DatasetActionsView.as_view(), name="dataset-actions"),
    re_path(
        rf"{DATASET}/cleanup/(?P<file_hash>{NAME})/?$",
        task_views.DatasetFileCleanupView.as_view(),
        name="dataset-file-cleanup",
    ),
    re_path(rf"{PROJECT}/tasks/(?P<task_id>{NAME})/?$", task_views.TaskView.as_view(), name="project-task"),
    # Chat, sessions and models (apps.projects.chat, apps.projects.sessions).
    re_path(rf"{PROJECT}/chat/completions/?$", chat_views.ChatCompletionsView.as_view(), name="chat-completions"),
    re_path(rf"{PROJECT}/chat/sessions/?$", chat_views.ChatSessionsView.as_view(), name="chat-sessions"),
    re_path(
        rf"{PROJECT}/chat/sessions/(?P<session_id>{NAME})/history/?$",
        chat_views.ChatSessionHistoryView.as_view(),
        name="chat-session-history",
    ),
    re_path(
        rf"{PROJECT}/chat/sessions/(?P<session_id>{NAME})/?$",
        chat_views.ChatSessionView.as_view(),
        name="chat-session",
    ),
    re_path(rf"{PROJECT}/models/?$", chat_views.ModelsView.as_view(), name="project-models"),
    re_path(rf"{PROJECT}/rag/query/?$", rag_views.RagQueryView.as_view(), name="rag-query"),
    re_path(rf"{PROJECT}/rag/health/?$", rag_views.RagHealthView.as_view(), name="rag-health"),
    re_path(rf"{PROJECT}/rag/stats/?$", rag_views.RagStatsView.as_view(), name="rag-stats"),
    re_path(rf"{PROJECT}/rag/databases/?$", rag_views.DatabaseListView.as_view(), name="rag-databases"),
    re_path(
        rf"{PROJECT}/rag/databases/(?P<database_name>{NAME})/?$",
        rag_views.DatabaseDetailView.as_view(),
        name="rag-database",
    ),
    re_path(
        rf"{PROJECT}/rag/databases/(?P<database_name>{NAME})/documents/?$",
        rag_views.DatabaseDocumentsView.as_view(),
        name="rag-database-documents",
    ),
    re_path(rf"{PROJECT}/event_logs/?$", event_log_views.EventLogListView.as_view(), name="event-logs"),
    re_path(
        rf"{PROJECT}/event_logs/(?P<event_id>{NAME})/?$",
        event_log_views.EventLogDetailView.as_view(),
        name="event-log",
    ),
]
