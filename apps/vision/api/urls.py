"""The spec's Vision routes, mounted at the platform's root: each path with and without its trailing
slash; the schema lists the spec's spelling (without)."""

from django.urls import path

from apps.vision.api import views

urlpatterns = [
    path("v1/vision/ocr", views.OcrView.as_view(), name="vision-ocr"),
    path("v1/vision/ocr/", views.OcrSlashView.as_view()),
    path("v1/vision/documents/extract", views.DocumentExtractView.as_view(), name="vision-extract"),
    path("v1/vision/documents/extract/", views.DocumentExtractSlashView.as_view()),
]
