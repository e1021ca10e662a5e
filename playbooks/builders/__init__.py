"""Per-platform plan builders: read live state (never write) and produce checks and steps."""
