"""YAML on disk to a validated desired state: parsing with line tracking, schema errors,
cross-reference checks. Pure: callers hand in file contents."""
