"""Routes of the model store, mounted at the platform's root.

Model ids contain '/', so the routes that take one are regular expressions with the id last.
Specific paths come before the catch-all ones (`/v1/models/download` before `/v1/models/{name}`).
"""

from django.urls import re_path

from apps.modelstore.api import hub, views

MODEL_ID = r"(?P<model_id>[^?#]+?)"
# The mirror's ids and file paths match any character (a newline too, which `.` would not): what the
# hub protocol refuses, the views answer in its own error body, not the platform's 404.
REPO_ID = r"(?P<repo_id>[\s\S]+?)"
FILE_PATH = r"(?P<path>[\s\S]+)"

urlpatterns = [
    # model-store API
    re_path(r"^api/v1/search/?$", views.SearchView.as_view(), name="modelstore-search"),
    re_path(r"^api/v1/models/?$", views.ModelListView.as_view(), name="modelstore-models"),
    re_path(
        rf"^api/v1/models/(?P<source>[^/]+)/{MODEL_ID}/?$", views.ModelDetailView.as_view(), name="modelstore-model"
    ),
    re_path(r"^api/v1/downloads/?$", views.DownloadView.as_view(), name="modelstore-downloads"),
    re_path(r"^api/v1/status/?$", views.StatusView.as_view(), name="modelstore-status"),
    re_path(r"^api/v1/clean/?$", views.CleanView.as_view(), name="modelstore-clean"),
    re_path(r"^api/v1/export/?$", views.ExportView.as_view(), name="modelstore-export"),
    # models cache API
    # GET /v1/models and /v1/models/{name} (list, retrieve, delete) are served by the backends app,
    # which merges OpenAI's model list with this cache's.
    re_path(r"^v1/models/download/?$", views.CacheDownloadView.as_view(), name="models-cache-download"),
    re_path(r"^v1/models/validate-download/?$", views.ValidateDownloadView.as_view(), name="models-cache-validate"),
    re_path(rf"^v1/models/{MODEL_ID}/quantizations/?$", views.QuantizationsView.as_view(), name="models-cache-quants"),
    # the mirror: the Hugging Face hub protocol
    re_path(r"^hub/api/models/?$", hub.HubModelListView.as_view(), name="hub-models"),
    re_path(
        rf"^hub/api/models/{REPO_ID}/revision/(?P<revision>[^/]+)/?$",
        hub.HubModelRevisionView.as_view(),
        name="hub-model-revision",
    ),
    re_path(rf"^hub/api/models/{REPO_ID}/refs/?$", hub.HubRefsView.as_view(), name="hub-model-refs"),
    re_path(
        rf"^hub/api/models/{REPO_ID}/commits/(?P<revision>[^/]+)/?$",
        hub.HubCommitsView.as_view(),
        name="hub-model-commits",
    ),
    re_path(
        rf"^hub/api/models/{REPO_ID}/paths-info/(?P<revision>[^/]+)/?$",
        hub.HubPathsInfoView.as_view(),
        name="hub-model-paths-info",
    ),
    # Two routes, not one optional group: an OpenAPI path template names every parameter it has.
    re_path(
        rf"^hub/api/models/{REPO_ID}/tree/(?P<revision>[^/]+)/?$",
        hub.HubTreeView.as_view(),
        name="hub-model-tree",
    ),
    re_path(
        rf"^hub/api/models/{REPO_ID}/tree/(?P<revision>[^/]+)/{FILE_PATH}$",
        hub.HubTreePathView.as_view(),
        name="hub-model-tree-path",
    ),
    re_path(rf"^hub/api/models/{REPO_ID}/?$", hub.HubModelInfoView.as_view(), name="hub-model"),
    re_path(
        rf"^hub/{REPO_ID}/resolve/(?P<revision>[^/]+)/{FILE_PATH}$",
        hub.HubResolveView.as_view(),
        name="hub-resolve",
    ),
]
