"""Use cases of the core records: recording a 異動 is one transaction, or nothing."""
