"""High-precision reference solutions for the solver tests (test helper code, not shipped)."""
