"""The Hugging Face hub (or any endpoint speaking its protocol, such as a Modelyard mirror).

Everything goes through `huggingface_hub` with the endpoint and token from settings passed
explicitly (huggingface_hub reads HF_ENDPOINT once, at import). Search results are built from
the hub's own metadata: parameter counts from its safetensors/GGUF summaries, sizes from the file
listing, architecture from config.json, license from the model card.
"""

import contextlib
import logging
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from django.conf import settings

from apps.core.errors import Forbidden, NotFound, Unavailable
from apps.modelstore import metadata
from apps.modelstore.errors import BadGateway
from apps.modelstore.sources.base import (
    FileStream,
    RemoteFile,
    RemoteListing,
    RemoteModel,
    SearchFilters,
    TransientSourceError,
)
from apps.modelstore.units import billions, params_hub_range

logger = logging.getLogger(__name__)

INFO_WORKERS = 8
# Post-filters (size, params) drop results: ask the hub for more candidates than the limit.
CANDIDATES_PER_RESULT = 3
MAX_CANDIDATES = 100
TIMEOUT_S = 60


class HuggingFaceSource:
    name = "huggingface"

    def __init__(self, endpoint: str | None = None, token: str | None = None) -> None:
        self.endpoint = (endpoint or settings.MODELYARD_HF_ENDPOINT).rstrip("/")
        # False, not None: huggingface_hub would otherwise send a token saved in ~/.cache.
        self.token: str | bool = token or settings.MODELYARD_HF_TOKEN or False

    # --- describing models -----------------------------------------------------------------------

    def search(self, filters: SearchFilters) -> list[RemoteModel]:
        from huggingface_hub.errors import BadRequestError

        post_filtered = filters.size is not None or filters.params is not None
        candidates = min(filters.limit * CANDIDATES_PER_RESULT, MAX_CANDIDATES) if post_filtered else filters.limit
        query: dict[str, Any] = {"sort": "downloads", "limit": candidates}
        if filters.query:
            query["search"] = filters.query
        if filters.provider:
            query["author"] = filters.provider
        if filters.task:
            query["pipeline_tag"] = filters.task
        tags = [tag for tag in (filters.format, f"license:{filters.license}" if filters.license else None) if tag]
        if tags:
            query["filter"] = tags
        if filters.params is not None:
            query["num_parameters"] = params_hub_range(filters.params)

        with self._errors(None):
            try:
                ids = [model.id for model in self._api().list_models(**query)]
            except BadRequestError:
                if "num_parameters" not in query:
                    raise
                # An endpoint without the parameter-count filter: the post-filter does the work.
                query.pop("num_parameters")
                ids = [model.id for model in self._api().list_models(**query)]
        with ThreadPoolExecutor(max_workers=INFO_WORKERS) as pool:
            described = list(pool.map(self._describe_or_none, ids))
        results = [model for model in described if model is not None and matches(model, filters)]
        return results[: filters.limit]

    def model_info(self, model_id: str) -> RemoteModel:
        with self._errors(model_id):
            info = self._api().model_info(model_id, files_metadata=True)
        return self._remote_model(info)

    def _describe_or_none(self, model_id: str) -> RemoteModel | None:
        try:
            return self.model_info(model_id)
        except (NotFound, Forbidden, BadGateway) as error:  # listed but not readable: leave it out
            logger.info("search: skipping %s: %s", model_id, error)
            return None

    def _remote_model(self, info: Any) -> RemoteModel:
        siblings = info.siblings or []
        names = [sibling.rfilename for sibling in siblings]
        config = info.config if isinstance(info.config, dict) else {}
        gguf_header = info.gguf if isinstance(info.gguf, dict) else None
        safetensors = {"total": info.safetensors.total} if info.safetensors else None
        card = info.card_data.to_dict() if info.card_data is not None else {}
        total = metadata.parameter_total(safetensors, gguf_header)
        model_id = info.id
        return RemoteModel(
            source=self.name,
            model_id=model_id,
            model_name=model_id.split("/")[-1],
            author=info.author or (model_id.split("/")[0] if "/" in model_id else ""),
            total_size_bytes=sum(_size(sibling) for sibling in siblings),
            file_count=len(siblings),
            parameter_count=billions(total),
            architecture=metadata.architecture_of(config, gguf_header),
            format=metadata.formats_of(names),
            quantization=metadata.quantization_of(config, names),
            tags=list(info.tags or []),
            license=metadata.license_of(card, info.tags),
            downloads=info.downloads or 0,
            likes=info.likes or 0,
            created_at=info.created_at.isoformat() if info.created_at else "",
            updated_at=info.last_modified.isoformat() if info.last_modified else "",
            web_url=f"{self.endpoint}/{model_id}",
            repo_url=f"{self.endpoint}/{model_id}/tree/main",
            gated=info.gated or False,
            parameter_total=total,
        )

    # --- files ---------------------------------------------------------------------------------

    def list_files(self, model_id: str, revision: str = "main") -> RemoteListing:
        with self._errors(model_id):
            info = self._api().model_info(model_id, revision=revision, files_metadata=True)
        files = [
            RemoteFile(
                path=sibling.rfilename,
                size=_size(sibling),
                lfs=sibling.lfs is not None,
                sha256=sibling.lfs.sha256 if sibling.lfs is not None else None,
                blob_id=sibling.blob_id,
            )
            for sibling in info.siblings or []
        ]
        if not info.sha:
            raise BadGateway(f"{self.endpoint} did not say which commit {model_id}@{revision} is")
        return RemoteListing(model_id=info.id, revision=info.sha, files=files)

    def access_refusal(self, listing: RemoteListing, path: str) -> str | None:
        """Ask for one file's headers (HEAD, no bytes): a gated repository answers 401/403 `GatedRepo`
        there even when its metadata and listing are public, as the real hub does."""
        from huggingface_hub import get_hf_file_metadata, hf_hub_url

        url = hf_hub_url(listing.model_id, path, revision=listing.revision, endpoint=self.endpoint)
        try:
            with self._errors(listing.model_id):
                get_hf_file_metadata(
                    url,
                    token=self.token,
                    endpoint=self.endpoint,
                    library_name="modelyard",
                    library_version=settings.MODELYARD_VERSION,
                )
        except Forbidden as refusal:
            return refusal.message
        return None

    @contextlib.contextmanager
    def open_file(self, *, model_id: str, revision: str, path: str, offset: int = 0) -> Iterator[FileStream]:
        import httpx2
        from huggingface_hub import hf_hub_url
        from huggingface_hub.utils import build_hf_headers, hf_raise_for_status, http_stream_backoff

        url = hf_hub_url(model_id, path, revision=revision, endpoint=self.endpoint)
        headers = build_hf_headers(
            token=self.token, library_name="modelyard", library_version=settings.MODELYARD_VERSION
        )
        headers["Accept-Encoding"] = "identity"  # sizes and hashes are of the raw bytes
        if offset:
            headers["Range"] = f"bytes={offset}-"
        with self._errors(model_id), contextlib.ExitStack() as stack:
            try:
                response = stack.enter_context(http_stream_backoff("GET", url, headers=headers, timeout=TIMEOUT_S))
                if response.status_code == 416 and offset:  # the partial file is longer than the file: start over
                    stack.close()
                    headers.pop("Range")
                    offset = 0
                    response = stack.enter_context(http_stream_backoff("GET", url, headers=headers, timeout=TIMEOUT_S))
                if response.is_error:
                    response.read()
                hf_raise_for_status(response)
            except (httpx2.TransportError, httpx2.TimeoutException) as error:
                raise TransientSourceError(f"{type(error).__name__}: {error}") from error
            yield FileStream(offset=offset if response.status_code == 206 else 0, chunks=_chunks(response))

    # --- plumbing --------------------------------------------------------------------------------

    def _api(self) -> Any:
        from huggingface_hub import HfApi

        return HfApi(
            endpoint=self.endpoint,
            token=self.token,
            library_name="modelyard",
            library_version=settings.MODELYARD_VERSION,
        )

    @contextlib.contextmanager
    def _errors(self, model_id: str | None) -> Iterator[None]:
        """huggingface_hub's exceptions as the store's errors."""
        import httpx2
        from huggingface_hub.errors import (
            GatedRepoError,
            HfHubHTTPError,
            OfflineModeIsEnabled,
            RepositoryNotFoundError,
            RevisionNotFoundError,
        )

        what = f"model {model_id!r}" if model_id else "search"
        try:
            yield
        except GatedRepoError as error:
            raise Forbidden(self._gated_message(what, model_id, error)) from None
        except (RepositoryNotFoundError, RevisionNotFoundError):
            raise NotFound(f"{what} not found on {self.endpoint}") from None
        except HfHubHTTPError as error:
            status = error.response.status_code if error.response is not None else "?"
            raise BadGateway(f"{self.endpoint} answered {status} for {what}: {_first_line(error)}") from None
        except (httpx2.ConnectError, httpx2.TimeoutException, OfflineModeIsEnabled) as error:
            raise Unavailable(f"{self.endpoint} cannot be reached: {type(error).__name__}: {error}") from None

    def _gated_message(self, what: str, model_id: str | None, error: Exception) -> str:
        """Which repository, and what to do: request access on the hub, and send a token that has it."""
        page = f"{self.endpoint}/{model_id}" if model_id else self.endpoint
        status = getattr(getattr(error, "response", None), "status_code", None)
        if self.token and status == 403:
            return (
                f"{what} is gated on {self.endpoint} and the token in MODELYARD_HF_TOKEN has no access to it: "
                f"request access at {page}"
            )
        return (
            f"{what} is gated on {self.endpoint}: request access at {page} and set MODELYARD_HF_TOKEN "
            "to a token of an account that has it"
        )


def matches(model: RemoteModel, filters: SearchFilters) -> bool:
    """The filters the hub cannot apply (or may not, on other endpoints), checked on each result."""
    if filters.params is not None and not filters.params.matches(model.parameter_total):
        return False
    if filters.size is not None and not filters.size.matches(model.total_size_bytes):
        return False
    if filters.format and filters.format.lower() not in model.format:
        return False
    if filters.license and (model.license or "").lower() != filters.license.lower():
        return False
    return True


def _chunks(response: Any) -> Iterator[bytes]:
    """The body as it arrives: nothing is held back in a buffer, so a broken connection loses nothing."""
    import httpx2

    try:
        yield from response.iter_bytes()
    except (httpx2.TransportError, httpx2.TimeoutException) as error:
        raise TransientSourceError(f"{type(error).__name__}: {error}") from error


def _size(sibling: Any) -> int:
    if sibling.lfs is not None:
        return int(sibling.lfs.size)
    return int(sibling.size or 0)


def _first_line(error: Exception) -> str:
    return next((line for line in str(error).splitlines() if line.strip()), type(error).__name__)
