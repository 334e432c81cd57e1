"""The audit log: consent events as rows, the hash chain, verification, group commit."""
