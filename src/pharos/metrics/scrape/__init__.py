"""metrics/scrape."""
