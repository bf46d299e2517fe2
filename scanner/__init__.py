"""Malware and type checks of uploaded objects: the clamd client, the streaming scan core, and
(later) the worker and Lambda handler that drive it from S3 events."""
