from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "vaxreg.core"
    label = "core"

    def ready(self) -> None:
        from vaxreg.core.task_results import task_locks_connect

        task_locks_connect()  # a worker holds each task's lock while it runs it (see task_results)
