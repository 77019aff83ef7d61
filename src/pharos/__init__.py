"""pharos: Kubernetes monitoring and log aggregation in one package."""

__version__ = "0.1.0"

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"  # every role's stderr log lines
