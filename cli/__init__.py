"""The ``nhiwarden`` command line: typer commands that route input and output, nothing more."""
