"""The FIX 4.4 venue adapter: `FixVenue` (`adapter`), its configuration `FixVenueConfig` (`config`),
the pure FIX <-> OMS mapping (`mapping`) and its persistent ClOrdID map and records (`store`).

Use: `FixVenue(FixVenueConfig(venue=..., sender_comp_id=..., target_comp_id=..., host=..., port=...,
data_dir=..., cache_dir=...))` logs on in the background; `wait_connected(timeout)`, then the
`VenueAdapter` methods; answers arrive through `poll(now)`; `close()` when done. The submodules are
imported on demand (`connectors.fix.adapter` loads the `quickfix` binding).
"""
