"""Static files served by the API (banner script, demo page)."""
