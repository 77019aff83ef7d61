"""Kubernetes: the shared list + watch client, service discovery (``kubernetes_sd_configs``),
cluster-state metrics under kube-state-metrics' names, and events into the log store."""
