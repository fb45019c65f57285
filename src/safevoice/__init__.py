"""SafeVoice: anonymous whistleblower intake with end-to-end encryption."""
