"""Pydantic models of every payload, and the topic catalogue (`schemas.catalogue`)."""
