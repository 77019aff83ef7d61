"""metrics/exposition."""
