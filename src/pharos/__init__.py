"""pharos: Kubernetes monitoring and log aggregation in one package."""

__version__ = "0.1.0"
