"""The spec's Vision routes, mounted at the platform's root."""

from django.urls import re_path

from apps.vision.api import views

urlpatterns = [
    re_path(r"^v1/vision/ocr/?$", views.OcrView.as_view(), name="vision-ocr"),
    re_path(r"^v1/vision/documents/extract/?$", views.DocumentExtractView.as_view(), name="vision-extract"),
]
