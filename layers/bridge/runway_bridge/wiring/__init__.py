"""Assembly: each Lambda function's services built from the deployed adapters, one module per
function (api, authorizer, poller, submit_event, copy, notifications) plus `keys` for the CLI and
`parts` for the adapters they share. Only this package imports both logic/ and adapters/.

Everything is built on first use inside a handler (never at import: cold starts stay lean and tests
set the environment first) and kept for the process; `cache.clear_all()` forgets it all (tests that
change settings call it after `get_settings.cache_clear()`)."""
