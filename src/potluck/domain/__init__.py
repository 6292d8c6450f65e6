"""The domain: models and the rules of each aggregate; it raises its own errors and knows
no HTTP."""
