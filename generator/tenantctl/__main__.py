"""``python -m tenantctl`` runs the CLI, for environments without the console script on PATH."""

from tenantctl.cli import main

main()
