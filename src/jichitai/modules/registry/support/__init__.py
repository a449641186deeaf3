"""DV等支援措置 (support measures): the measures, their rules, service and API."""
