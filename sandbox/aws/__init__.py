"""AWS sandbox: an in-process moto server with faithful paging and fault injection, and seeded estates."""
