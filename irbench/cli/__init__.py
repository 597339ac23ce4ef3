"""The `irbench` command line (typer). Each command lives in its own module with `register`."""
