"""Routes of the spec's ML section, mounted at the platform's root, with the spec's path parameter
names (`{model_name}`, `{filename}`)."""

from django.urls import path

from apps.ml.api import views

urlpatterns = [
    path("v1/ml/classifier/fit", views.ClassifierFitView.as_view()),
    path("v1/ml/classifier/predict", views.ClassifierPredictView.as_view()),
    path("v1/ml/classifier/save", views.ClassifierSaveView.as_view()),
    path("v1/ml/classifier/load", views.ClassifierLoadView.as_view()),
    path("v1/ml/classifier/models", views.ClassifierModelsView.as_view()),
    path("v1/ml/classifier/models/<str:model_name>", views.ClassifierModelDeleteView.as_view()),
    path("v1/ml/anomaly/fit", views.AnomalyFitView.as_view()),
    path("v1/ml/anomaly/score", views.AnomalyScoreView.as_view()),
    path("v1/ml/anomaly/detect", views.AnomalyDetectView.as_view()),
    path("v1/ml/anomaly/save", views.AnomalySaveView.as_view()),
    path("v1/ml/anomaly/load", views.AnomalyLoadView.as_view()),
    path("v1/ml/anomaly/models", views.AnomalyModelsView.as_view()),
    path("v1/ml/anomaly/models/<str:filename>", views.AnomalyModelDeleteView.as_view()),
]
