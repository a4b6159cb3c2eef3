"""A small shop whose background jobs run on runio."""
