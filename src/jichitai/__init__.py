"""jichitai-cloud: a shared municipal cloud (自治体クラウド) for Japanese municipalities."""

__version__ = "0.1.0"
