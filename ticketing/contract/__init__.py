"""The contract's shared types: pydantic models, errors with their codes, the wire encoding, identifiers, money."""
