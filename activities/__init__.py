"""All I/O of a case: the calendar, the routing file, messages."""
