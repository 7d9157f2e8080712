"""Redaction of customer data (phone, ID, card numbers, e-mail) in transcripts shown to supervisors."""
