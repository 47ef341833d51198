"""The web blotter: a Starlette app (`entrypoints.web.app`) over a live state (`entrypoints.web.state`),
with one static page (`static/`: HTML, JS and CSS, no build step, nothing fetched from elsewhere)."""
