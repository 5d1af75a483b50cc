"""Entry point of the ``claimledger`` command."""

import click


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="claimledger")
def main() -> None:
    """claimledger: a public, tamper-evident record of child-safety claims and their verdicts."""
