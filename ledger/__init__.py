"""The stateful layer: event store, sequencer, Merkle log and read views."""

__all__: list[str] = []
