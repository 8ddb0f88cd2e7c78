"""The grading API (docs/api.md)."""
