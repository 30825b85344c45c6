"""Command-line tools: each module owns its arguments and `main`."""
