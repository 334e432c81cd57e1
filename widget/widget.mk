# The widget's build, for the top-level Makefile to `include widget/widget.mk`.
# `make widget` rebuilds consent_service/widget/static/widget.js from widget/src
# (committed; tests/test_widget_build.py checks it matches a fresh build).
# Node.js is needed only here, never by the running service.

WIDGET_SRC := $(wildcard widget/src/*.js widget/src/*.css) widget/build.mjs widget/package.json

# Included before the including Makefile's own targets, this file must not make
# its first rule the default goal: remember it here and put it back at the end.
_WIDGET_DEFAULT_GOAL := $(.DEFAULT_GOAL)

.PHONY: widget widget-deps

widget/node_modules/.package-lock.json: widget/package.json widget/package-lock.json
	cd widget && npm ci --no-audit --no-fund

widget-deps: widget/node_modules/.package-lock.json

consent_service/widget/static/widget.js: $(WIDGET_SRC) widget/node_modules/.package-lock.json
	cd widget && node build.mjs

widget: consent_service/widget/static/widget.js

.DEFAULT_GOAL := $(_WIDGET_DEFAULT_GOAL)
