"""The privacy officer's side: tokens, routes, exports, stats, retention, access log."""
