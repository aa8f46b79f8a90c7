"""``python -m softtarget`` runs the command line."""

from softtarget.cli import run_main

run_main()
