"""`GET /v1/system/version-check` of the projects spec's Health API; the logic is `apps.projects.versions`."""

from django.http import HttpRequest
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.projects import versions


class InstallSerializer(serializers.Serializer):
    mac_linux = serializers.CharField()
    windows = serializers.CharField()


class VersionCheckSerializer(serializers.Serializer):
    current_version = serializers.CharField(help_text="This installation's version.")
    latest_version = serializers.CharField(allow_null=True, help_text="Null when the feed was never reached.")
    name = serializers.CharField(allow_null=True)
    release_notes = serializers.CharField(allow_null=True)
    release_url = serializers.CharField(allow_null=True)
    published_at = serializers.CharField(allow_null=True)
    from_cache = serializers.BooleanField(help_text="True when the feed was not asked or could not be reached.")
    install = InstallSerializer()
    error = serializers.CharField(
        allow_null=True,
        help_text="Null when the feed answered; else why it was not used: no feed configured "
        "(set MODELYARD_RELEASE_FEED_URL), or the reason the feed failed.",
    )


class VersionCheckView(APIView):
    @extend_schema(
        operation_id="system_version_check",
        summary="Check for updates",
        description="The installed version against the latest release of MODELYARD_RELEASE_FEED_URL (GitHub "
        "releases JSON), cached for MODELYARD_RELEASE_FEED_TTL_S. Never fails: offline it answers the cached "
        "release with `from_cache: true`, or `latest_version: null` when there is none; `error` says why.",
        responses={200: VersionCheckSerializer},
    )
    def get(self, request: HttpRequest) -> Response:
        return Response(versions.version_check())
