"""The projects spec's dataset actions (`process`/`ingest`), tasks (status, cancel) and manual
cleanup of a file's chunks. Live progress of a task: `GET /api/v1/jobs/{task_id}/events` (SSE)."""

from django.http import HttpRequest
from django.urls import reverse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.schema import DetailErrorSerializer
from apps.core.validation import validated
from apps.projects import processing
from apps.projects.api import rag_serializers as s
from apps.projects.services import project_get

NOT_FOUND = OpenApiResponse(DetailErrorSerializer, description="No such project, dataset or task")


class DatasetActionsView(APIView):
    @extend_schema(
        operation_id="dataset_actions",
        summary="Start processing a dataset",
        description=(
            '`{"action_type": "process"}` (alias "ingest") queues a job per file of the dataset and answers at once '
            "with the task to poll. A run of this dataset still queued or running is answered instead of starting a "
            "second one (same task id). Live progress: `GET /api/v1/jobs/{task_id}/events` (Server-Sent Events)."
        ),
        request=s.DatasetActionSerializer,
        responses={200: s.DatasetActionResponseSerializer, 404: NOT_FOUND},
    )
    def post(self, request: HttpRequest, namespace: str, project: str, dataset: str) -> Response:
        owner = project_get(namespace=namespace, name=project)
        action = validated(s.DatasetActionSerializer, request.data)
        job = processing.dataset_process_start(project=owner, dataset_name=dataset, action_type=action["action_type"])
        path = reverse("project-task", kwargs={"namespace": namespace, "project": project, "task_id": str(job.pk)})
        body = {"message": "Accepted", "task_uri": request.build_absolute_uri(path), "task_id": str(job.pk)}
        return Response(s.DatasetActionResponseSerializer(body).data)


class TaskView(APIView):
    @extend_schema(
        operation_id="task_get",
        summary="Get the status of an asynchronous task",
        description=(
            "State (PENDING, STARTED, SUCCESS, FAILURE, RETRY; REVOKED with `cancelled: true` once cancelled), "
            "`meta` with files done / total and each file's state, `result` with processed, skipped and failed "
            'counts and per-file details once the task ended. A task with a failed file ends FAILURE, "k of N files '
            'failed". An id never issued, or one of another project, is 404.'
        ),
        responses={200: s.TaskSerializer, 404: NOT_FOUND},
    )
    def get(self, request: HttpRequest, namespace: str, project: str, task_id: str) -> Response:
        owner = project_get(namespace=namespace, name=project)
        job = processing.task_get(project=owner, task_id=task_id)
        return Response(s.TaskSerializer(processing.task_status(job=job)).data)

    @extend_schema(
        operation_id="task_cancel",
        summary="Cancel a task and revert the files it processed",
        description=(
            "Queued file jobs are revoked, running ones finish their current file, then every file the task "
            "processed has its chunks removed. Idempotent (`already_cancelled`); a task that had ended answers "
            "`already_completed` and is left as it is. Cleanup failures are listed in `errors`."
        ),
        responses={200: s.TaskCancelSerializer, 404: NOT_FOUND},
    )
    def delete(self, request: HttpRequest, namespace: str, project: str, task_id: str) -> Response:
        owner = project_get(namespace=namespace, name=project)
        return Response(s.TaskCancelSerializer(processing.task_cancel(project=owner, task_id=task_id)).data)


class DatasetFileCleanupView(APIView):
    @extend_schema(
        operation_id="dataset_cleanup_file",
        summary="Remove a file's chunks from the dataset's database by hand",
        description="For recovery when the automatic revert of a cancelled task failed. The file stays in the dataset.",
        request=None,
        responses={200: s.FileCleanupSerializer, 404: NOT_FOUND},
    )
    def post(self, request: HttpRequest, namespace: str, project: str, dataset: str, file_hash: str) -> Response:
        owner = project_get(namespace=namespace, name=project)
        body = processing.file_cleanup(project=owner, dataset_name=dataset, file_hash=file_hash)
        return Response(s.FileCleanupSerializer(body).data)
