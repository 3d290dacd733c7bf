"""Roll-ups of the programme's figures over a region and everything below it."""
