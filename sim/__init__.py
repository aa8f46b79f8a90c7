"""The simulation model: scenario schema, venue, crowd, staff, threats, coordination, batches."""
