"""django-q2 entry points of the ML jobs: thin, each applies the thread policy and calls its service."""

from typing import Any

from apps.core.threads import apply_model_thread_policy
from apps.ml import services


def classifier_fit(**params: Any) -> dict[str, Any]:
    apply_model_thread_policy()
    return services.classifier_fit_run(**params)


def classifier_predict(**params: Any) -> dict[str, Any]:
    apply_model_thread_policy()
    return services.classifier_predict_run(**params)


def classifier_load(**params: Any) -> dict[str, Any]:
    apply_model_thread_policy()
    return services.classifier_load_run(**params)


def anomaly_fit(**params: Any) -> dict[str, Any]:
    apply_model_thread_policy()
    return services.anomaly_fit_run(**params)


def anomaly_score(**params: Any) -> dict[str, Any]:
    apply_model_thread_policy()
    return services.anomaly_score_run(**params)


def anomaly_load(**params: Any) -> dict[str, Any]:
    apply_model_thread_policy()
    return services.anomaly_load_run(**params)
