"""The standalone controller: supervises local server processes and keeps its state in SQLite."""
