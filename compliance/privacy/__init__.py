"""Data lifecycle and privacy: retention, archival, legal holds, deletion
certificates, GDPR export and erasure, consent, classification, data
inventory, backups and usage records."""
