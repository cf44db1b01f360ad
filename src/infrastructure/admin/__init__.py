"""Admin adapters: instances' heartbeats and the system's probes (the analytics queries are in persistence/)."""
