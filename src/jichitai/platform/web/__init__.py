"""Web plumbing shared by every module: error bodies, request ids, access logs, health probes."""
