"""The site owners ' reader and its middleware (issue 19)."""
