"""The pure core: policies, operators (prompt building and answer parsing) and memory.

Nothing here does I/O, reads the environment or the clock, or uses global randomness.
"""
