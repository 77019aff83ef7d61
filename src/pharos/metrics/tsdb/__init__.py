"""metrics/tsdb."""
