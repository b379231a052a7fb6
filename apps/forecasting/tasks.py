"""django-q2 entry points of forecasting: thin, the work is in `services`."""

from apps.forecasting import services


def finetune_model(*, finetune_id: int) -> dict:
    return services.finetune_execute(finetune_id=finetune_id)
