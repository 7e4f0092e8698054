from django.apps import AppConfig


class ApmConfig(AppConfig):
    name = "apm"
    verbose_name = "APM telemetry"

    def ready(self):
        from celery import signals

        from apm import consumer

        # The ingest stream consumer lives in the Celery worker (no extra process type):
        # in each prefork child, or in the worker itself for single-process pools.
        def in_child(**kwargs):
            consumer.start_consumers()

        def in_worker(sender=None, **kwargs):
            pool = getattr(getattr(sender, "controller", None), "pool_cls", None)
            name = getattr(pool, "__module__", str(pool or ""))
            if "prefork" not in name:
                consumer.start_consumers()

        def stop(**kwargs):
            consumer.stop_consumers()

        signals.worker_process_init.connect(in_child, weak=False, dispatch_uid="apm-consumer-child")
        signals.worker_ready.connect(in_worker, weak=False, dispatch_uid="apm-consumer-worker")
        signals.worker_process_shutdown.connect(stop, weak=False, dispatch_uid="apm-consumer-child-stop")
        signals.worker_shutdown.connect(stop, weak=False, dispatch_uid="apm-consumer-worker-stop")
