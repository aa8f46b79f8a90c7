"""Built-in scenario files (festival, stadium, station, worship)."""
