"""HTTP edge: the auth and user Powertools resolvers, their pydantic models and the one error mapping."""
