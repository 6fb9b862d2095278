"""Explanation: reasons for each recommended pair, as sentences and as data."""
