"""The public page (issue 5): comparison, company timeline, in-browser verification.

Not built yet. It will be mounted by :func:`api.create_app` at ``/`` (``/providers/{id}``,
``/log``, local static assets) and read the same ``/v1`` endpoints as any other client.
"""

__all__: list[str] = []
