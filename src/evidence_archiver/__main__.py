"""`python -m evidence_archiver` runs the `evidence` command."""

from evidence_archiver.cli import main

main()
