"""Business modules. Each has the same shape and plugs into the platform through ``jichitai.bootstrap``."""
