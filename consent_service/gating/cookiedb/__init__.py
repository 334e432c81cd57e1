"""The Open Cookie Database: known cookies by name, to turn a scan into a declaration.

A pinned copy of ``open-cookie-database.csv`` from
https://github.com/jkwakman/Open-Cookie-Database (Apache-2.0, its ``LICENSE`` beside it
in ``data/``) ships as package data; ``consent-service scan --update-cookie-db SOURCE``
replaces it (or writes another copy, ``--cookie-db PATH``) from a URL or a file.
"""
