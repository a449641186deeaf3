"""住民票の写し等 (certificates): requests, documents, fees, the 交付履歴 and the QR check."""
