from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = "Audit trail and security events"

    def ready(self) -> None:
        from audit import registration

        registration.register_models()

        from audit.detection import metrics, tasks  # noqa: F401 - registers the beat tasks

        metrics.collector_register()
