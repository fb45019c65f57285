"""``safevoice desk``: one committee member's local web app; decryption only on this machine."""
