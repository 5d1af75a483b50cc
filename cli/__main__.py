"""``python -m cli``: the same as the ``claimledger`` command."""

from cli._main import main

main(prog_name="claimledger")
