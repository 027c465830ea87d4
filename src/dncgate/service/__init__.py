"""Use cases: each orchestrates domain rules over the stores for one API call."""
