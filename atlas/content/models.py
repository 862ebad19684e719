"""Models of the content app."""
