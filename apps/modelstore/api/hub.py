"""The mirror: the store over the Hugging Face hub's HTTP protocol, under `/hub/`.

`HF_ENDPOINT=http://host:8000/hub` makes any `huggingface_hub` client (transformers, `hf`,
another Modelyard) read the store: model info, file listings, and files with HEAD, ranged GET,
`ETag` and `X-Repo-Commit`; refs, commits and paths-info for `HfFileSystem` (`hf://`). Access
follows the API key rules: the client's `HF_TOKEN` is sent as
`Authorization: Bearer`, so a Modelyard key works as the token.
"""

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

from django.conf import settings
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.parsers import FormParser
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.errors import NotFound
from apps.core.schema import ErrorSerializer as HubErrorSerializer
from apps.core.validation import INT32_MAX, BoundedIntegerField, validated
from apps.modelstore import mirror, services
from apps.modelstore.api.serializers import (
    HubCommitSerializer,
    HubModelInfoSerializer,
    HubRefsSerializer,
    HubTreeEntrySerializer,
)

CHUNK_SIZE = 1024 * 1024
REPO = OpenApiParameter("repo_id", OpenApiTypes.STR, OpenApiParameter.PATH, description="e.g. org/name")
REVISION = OpenApiParameter("revision", OpenApiTypes.STR, OpenApiParameter.PATH, description="main or the commit")
RECURSIVE = OpenApiParameter("recursive", OpenApiTypes.BOOL)
NOT_FOUND = {400: HubErrorSerializer, 401: HubErrorSerializer, 404: HubErrorSerializer}


class HubModelListQuerySerializer(serializers.Serializer):
    limit = BoundedIntegerField(required=False, min_value=0, help_text="More than 1000 is read as 1000.")


class HubView(APIView):
    """Errors as the hub writes them: `{"error": …}` and an `X-Error-Code` header."""

    error_key = "error"

    def initial(self, request: HttpRequest, *args: object, **kwargs: object) -> None:
        if not settings.MODELYARD_MIRROR_ENABLED:
            raise NotFound("the mirror is disabled (MODELYARD_MIRROR_ENABLED=false)")
        super().initial(request, *args, **kwargs)

    def finalize_response(
        self, request: HttpRequest, response: HttpResponse, *args: object, **kwargs: object
    ) -> HttpResponse:
        response = super().finalize_response(request, response, *args, **kwargs)
        data = getattr(response, "data", None)
        if response.status_code >= 400 and isinstance(data, dict):
            if data.get("error_code"):
                response["X-Error-Code"] = data["error_code"]
            if data.get("commit"):
                response["X-Repo-Commit"] = data["commit"]
            if response.status_code == 416 and data.get("size") is not None:
                response["Content-Range"] = f"bytes */{data['size']}"
            if response.status_code == 401 and request.headers.get("Authorization"):
                response["X-Error-Message"] = "Invalid credentials in Authorization header"
        return response


class HubModelListView(HubView):
    @extend_schema(
        operation_id="hub_models_list",
        description="`HfApi.list_models`: search, author, filter (tags, all required), pipeline_tag, "
        "num_parameters (min:6B,max:9B), limit.",
        parameters=[
            OpenApiParameter("search", OpenApiTypes.STR),
            OpenApiParameter("author", OpenApiTypes.STR),
            OpenApiParameter("filter", OpenApiTypes.STR, many=True),
            OpenApiParameter("pipeline_tag", OpenApiTypes.STR),
            OpenApiParameter("num_parameters", OpenApiTypes.STR),
            OpenApiParameter("limit", {"type": "integer", "minimum": 0, "maximum": INT32_MAX}),
        ],
        responses={200: HubModelInfoSerializer(many=True), 401: HubErrorSerializer},
    )
    def get(self, request: HttpRequest) -> Response:
        params = request.query_params
        query = validated(HubModelListQuerySerializer, {"limit": params["limit"]} if params.get("limit") else {})
        repos = mirror.search(
            search_text=params.get("search"),
            author=params.get("author"),
            tags=params.getlist("filter"),
            pipeline_tag=params.get("pipeline_tag"),
            num_parameters=params.get("num_parameters"),
            limit=query.get("limit"),
        )
        return Response(HubModelInfoSerializer([mirror.model_info(repo) for repo in repos], many=True).data)


class HubModelInfoView(HubView):
    @extend_schema(
        operation_id="hub_model_info",
        description="`HfApi.model_info` at `main`; `blobs=true` adds sizes, blob ids and LFS hashes.",
        parameters=[REPO, OpenApiParameter("blobs", OpenApiTypes.BOOL)],
        responses={200: HubModelInfoSerializer, **NOT_FOUND},
    )
    def get(self, request: HttpRequest, repo_id: str, revision: str = mirror.DEFAULT_REVISION) -> Response:
        repo = mirror.repo_get(repo_id)
        mirror.revision_check(repo, revision)
        blobs = request.query_params.get("blobs", "").lower() in {"1", "true"}
        return Response(HubModelInfoSerializer(mirror.model_info(repo, blobs=blobs)).data)


class HubModelRevisionView(HubModelInfoView):
    @extend_schema(
        operation_id="hub_model_info_revision",
        description="`HfApi.model_info(revision=…)`: `main` or the commit it resolves to.",
        parameters=[REPO, REVISION, OpenApiParameter("blobs", OpenApiTypes.BOOL)],
        responses={200: HubModelInfoSerializer, **NOT_FOUND},
    )
    def get(self, request: HttpRequest, repo_id: str, revision: str = mirror.DEFAULT_REVISION) -> Response:
        return super().get(request, repo_id, revision)


class HubTreeView(HubView):
    @extend_schema(
        operation_id="hub_model_tree",
        description="`HfApi.list_repo_tree` / `list_repo_files`: files and folders at the top of the repo, "
        "`recursive=true` for all.",
        parameters=[REPO, REVISION, RECURSIVE],
        responses={200: HubTreeEntrySerializer(many=True), **NOT_FOUND},
    )
    def get(self, request: HttpRequest, repo_id: str, revision: str, path: str = "") -> Response:
        repo = mirror.repo_get(repo_id)
        mirror.revision_check(repo, revision)
        recursive = request.query_params.get("recursive", "").lower() in {"1", "true"}
        return Response(HubTreeEntrySerializer(mirror.tree(repo, path=path or "", recursive=recursive), many=True).data)


class HubTreePathView(HubTreeView):
    @extend_schema(
        operation_id="hub_model_tree_path",
        description="`HfApi.list_repo_tree(path_in_repo=…)`: files and folders under `path`.",
        parameters=[REPO, REVISION, OpenApiParameter("path", OpenApiTypes.STR, OpenApiParameter.PATH), RECURSIVE],
        responses={200: HubTreeEntrySerializer(many=True), **NOT_FOUND},
    )
    def get(self, request: HttpRequest, repo_id: str, revision: str, path: str = "") -> Response:
        return super().get(request, repo_id, revision, path)


class HubRefsView(HubView):
    @extend_schema(
        operation_id="hub_model_refs",
        description="`HfApi.list_repo_refs`: the one branch, `main`, at the store's commit of the model.",
        parameters=[REPO, OpenApiParameter("include_prs", OpenApiTypes.BOOL)],
        responses={200: HubRefsSerializer, **NOT_FOUND},
    )
    def get(self, request: HttpRequest, repo_id: str) -> Response:
        return Response(HubRefsSerializer(mirror.refs(mirror.repo_get(repo_id))).data)


class HubCommitsView(HubView):
    @extend_schema(
        operation_id="hub_model_commits",
        description="`HfApi.list_repo_commits`: the one commit of `main` (or of its sha).",
        parameters=[REPO, REVISION],
        responses={200: HubCommitSerializer(many=True), **NOT_FOUND},
    )
    def get(self, request: HttpRequest, repo_id: str, revision: str) -> Response:
        repo = mirror.repo_get(repo_id)
        mirror.revision_check(repo, revision)
        return Response(HubCommitSerializer([mirror.commit(repo)], many=True).data)


class HubPathsInfoView(HubView):
    """`HfApi.get_paths_info` (and `HfFileSystem.info`): a form (or JSON) with `paths` and `expand`."""

    parser_classes = [FormParser, *HubView.parser_classes]

    @extend_schema(
        operation_id="hub_model_paths_info",
        description="`HfApi.get_paths_info`: the entries of the `paths` that exist; `expand=true` adds `lastCommit`.",
        parameters=[REPO, REVISION],
        request={
            "application/x-www-form-urlencoded": {
                "type": "object",
                "properties": {"paths": {"type": "array", "items": {"type": "string"}}, "expand": {"type": "boolean"}},
            }
        },
        responses={200: HubTreeEntrySerializer(many=True), **NOT_FOUND},
    )
    def post(self, request: HttpRequest, repo_id: str, revision: str) -> Response:
        repo = mirror.repo_get(repo_id)
        mirror.revision_check(repo, revision)
        data = request.data
        paths = data.getlist("paths") if hasattr(data, "getlist") else data.get("paths", [])
        if isinstance(paths, str):
            paths = [paths]
        expand = str(data.get("expand", "")).lower() in {"1", "true"}
        entries = mirror.paths_info(repo, [str(path) for path in paths], expand=expand)
        return Response(HubTreeEntrySerializer(entries, many=True).data)


class HubResolveView(HubView):
    """`hf_hub_download`: HEAD for the metadata, GET (ranged for resumes) for the bytes."""

    @extend_schema(
        operation_id="hub_resolve",
        parameters=[REPO, REVISION, OpenApiParameter("path", OpenApiTypes.STR, OpenApiParameter.PATH)],
        responses={(200, "application/octet-stream"): OpenApiTypes.BINARY, 206: OpenApiTypes.BINARY, **NOT_FOUND},
    )
    def get(self, request: HttpRequest, repo_id: str, revision: str, path: str) -> HttpResponse:
        return self._answer(request, repo_id, revision, path, with_body=True)

    @extend_schema(exclude=True)
    def head(self, request: HttpRequest, repo_id: str, revision: str, path: str) -> HttpResponse:
        return self._answer(request, repo_id, revision, path, with_body=False)

    def _answer(self, request: HttpRequest, repo_id: str, revision: str, path: str, *, with_body: bool) -> HttpResponse:
        repo = mirror.repo_get(repo_id)
        try:
            mirror.revision_check(repo, revision)
            file_path, record = mirror.file_get(repo, path)
        except NotFound as error:
            error.fields["commit"] = repo.sha
            raise
        size = record["size"]
        headers = mirror.file_headers(repo, path, record)
        span = mirror.byte_range(request.headers.get("Range"), size) if with_body else None
        start, end = span if span else (0, size - 1)
        length = max(end - start + 1, 0)
        headers["Content-Length"] = str(length)
        status = 206 if span else 200
        if span:
            headers["Content-Range"] = f"bytes {start}-{end}/{size}"
        if not with_body:
            return HttpResponse(status=200, headers=headers)
        services.local_model_touch(model=repo.model)
        response = StreamingHttpResponse(_file_chunks(file_path, start, length), status=status)
        for name, value in headers.items():
            response[name] = value
        return response


async def _file_chunks(path: Path, start: int, length: int) -> AsyncIterator[bytes]:
    """The bytes of a file from `start`, read in a thread so the server's loop never blocks on disk."""
    stream = await asyncio.to_thread(path.open, "rb")
    try:
        await asyncio.to_thread(stream.seek, start)
        remaining = length
        while remaining > 0:
            chunk = await asyncio.to_thread(stream.read, min(CHUNK_SIZE, remaining))
            if not chunk:
                return
            remaining -= len(chunk)
            yield chunk
    finally:
        stream.close()
