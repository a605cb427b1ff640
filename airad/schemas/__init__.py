"""Wire contracts: run requests, events and job specs as frozen, tagged msgspec Structs."""
