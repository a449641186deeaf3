"""住民記録の中核: 個人・世帯の記録と異動 (records and events), their API, screens and change feed."""
