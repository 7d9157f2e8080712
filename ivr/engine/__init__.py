"""Runs a call flow against a Channel (channel.py is the contract with the FastAGI side)."""
