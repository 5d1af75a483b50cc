"""The HTTP shell: a FastAPI application over the ledger."""

__all__: list[str] = []
