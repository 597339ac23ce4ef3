"""`python -m irbench` runs the command line."""

from irbench.cli.app import main

main()
