"""The HTTP side: the app, its state, errors, guards and limits, the server protocols."""
